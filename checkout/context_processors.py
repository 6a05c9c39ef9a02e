"""Template context every page needs from checkout."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def demo_shop(request: HttpRequest) -> dict[str, bool]:
    """``demo_shop``: the shop takes no real payments (base.html shows a banner)."""
    return {"demo_shop": bool(getattr(settings, "DEMO_SHOP", False))}
