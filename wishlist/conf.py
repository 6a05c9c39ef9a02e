"""The wishlist's settings, each with its default once; a Django setting ``WISHLIST_<NAME>``
overrides it (``config/settings/app_settings.py`` reads each from the environment)."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class WishlistSettings:
    # The most products one list (a session's or a customer's) holds.
    MAX_ITEMS: int = 200


wishlist_settings = app_settings("WISHLIST", WishlistSettings)
