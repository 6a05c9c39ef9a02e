"""Discovery listens to the shop: each product page shown goes first in the session's
recently viewed list."""

from __future__ import annotations

from django.dispatch import receiver
from django.http import HttpRequest

from discovery.services import recently_viewed_add
from shop.signals import product_viewed


@receiver(product_viewed)
def remember_viewed(sender: object, request: HttpRequest, product_id: int, **kwargs: object) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        recently_viewed_add(session, product_id)
