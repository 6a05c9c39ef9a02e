"""Writes of the wishlist: save, remove, and merge a guest's list into the customer's at login."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest

from core.errors import InvalidInput, NotFound
from shop.models import Product
from wishlist.conf import wishlist_settings
from wishlist.models import WishlistItem
from wishlist.selectors import SESSION_KEY, session_ids, wishlist_forget, wishlist_ids


def _customer(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def wishlist_set(request: HttpRequest, product_id: int, saved: bool) -> bool:
    """Save (``saved``) or remove a product; idempotent (a double submit changes nothing more).
    Returns whether it is saved now. NotFound for a product not sold; InvalidInput when the
    list is full."""
    if saved and not Product.objects.filter(pk=product_id, is_active=True).exists():
        raise NotFound("This product is no longer sold.")
    current = wishlist_ids(request)
    if saved and product_id not in current and len(current) >= int(wishlist_settings.MAX_ITEMS):
        raise InvalidInput(f"Your wishlist is full ({len(current)} products): remove some first.")
    user = _customer(request)
    if user is not None:
        if saved:
            WishlistItem.objects.get_or_create(user=user, product_id=product_id)
        else:
            WishlistItem.objects.filter(user=user, product_id=product_id).delete()
    else:
        ids = [pk for pk in session_ids(request) if pk != product_id]
        request.session[SESSION_KEY] = [product_id, *ids] if saved else ids
    wishlist_forget(request)
    return saved


def wishlist_login_merge(request: HttpRequest, user: User) -> int:
    """Add the guest list of this session to the customer's list (oldest first, so the newest
    stays newest), then empty the session's. Returns how many were added."""
    ids = session_ids(request)
    if not ids:
        return 0
    active = set(Product.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    room = int(wishlist_settings.MAX_ITEMS) - WishlistItem.objects.filter(user=user).count()
    added = 0
    with transaction.atomic():
        for product_id in reversed(ids):
            if product_id in active and added < room:
                _item, created = WishlistItem.objects.get_or_create(user=user, product_id=product_id)
                added += int(created)
    request.session.pop(SESSION_KEY, None)
    wishlist_forget(request)
    return added
