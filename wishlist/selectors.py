"""Reads of the wishlist: whose list the request has (a customer's in the database, a guest's
in the session) and what is on it."""

from __future__ import annotations

from django.http import HttpRequest

from shop.models import Product
from wishlist.models import WishlistItem

SESSION_KEY = "wishlist"
_CACHE_ATTR = "_wishlist_ids"


def session_ids(request: HttpRequest) -> list[int]:
    """A guest's saved product ids, newest first (ints only, whatever the session holds)."""
    raw = request.session.get(SESSION_KEY, []) if hasattr(request, "session") else []
    return [int(x) for x in raw if isinstance(x, int)] if isinstance(raw, list) else []


def wishlist_ids(request: HttpRequest) -> list[int]:
    """The request's saved product ids, newest first; read once per request."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            cached = list(WishlistItem.objects.filter(user=user).values_list("product_id", flat=True))
        else:
            cached = session_ids(request)
        setattr(request, _CACHE_ATTR, cached)
    return list(cached)


def wishlist_forget(request: HttpRequest) -> None:
    """Drop the per-request cache after a change."""
    if hasattr(request, _CACHE_ATTR):
        delattr(request, _CACHE_ATTR)


def wishlist_products(request: HttpRequest) -> list[Product]:
    """The saved products still sold, newest saved first (with their sizes)."""
    ids = wishlist_ids(request)
    found = Product.objects.filter(pk__in=ids, is_active=True).prefetch_related("variants").in_bulk()
    return [found[pk] for pk in ids if pk in found]


def wishlist_count(request: HttpRequest) -> int:
    return len(wishlist_products(request)) if wishlist_ids(request) else 0
