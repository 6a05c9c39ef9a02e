"""A guest's wishlist follows the shopper when they log in."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from wishlist.services import wishlist_login_merge


@receiver(user_logged_in)
def merge_wishlist_on_login(sender: object, request: HttpRequest | None, user: User, **kwargs: object) -> None:
    if request is not None and hasattr(request, "session"):
        wishlist_login_merge(request, user)
