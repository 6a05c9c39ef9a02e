"""The browser session's last visual search ("last touch"): its kind and the products it showed,
in a signed session cookie set only after a visual search (``middleware.visual_search_touch``
writes it). Clicks on those products, adds to bag and orders that follow are credited to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponse

from insights.conf import insights_settings

COOKIE = "lk_vs"
_SALT = "insights.touch"
_NEW = "_insights_touch"


@dataclass
class Touch:
    kind: str
    products: list[int] = field(default_factory=list)


def touch_get(request: HttpRequest) -> Touch | None:
    """The last visual search of this browser session, if recent enough."""
    new = getattr(request, _NEW, None)
    if new is not None:
        return new
    try:
        raw = request.get_signed_cookie(
            COOKIE, default=None, salt=_SALT, max_age=insights_settings.ATTRIBUTION_HOURS * 3600
        )
    except BadSignature:
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Touch(str(data["k"]), [int(p) for p in data["p"]][:20])
    except (ValueError, KeyError, TypeError):
        return None


def touch_set(request: HttpRequest, kind: str, products: list[int]) -> None:
    setattr(request, _NEW, Touch(kind, products[:20]))


def touch_write(request: HttpRequest, response: HttpResponse) -> None:
    """Set the cookie for a visual search this request made (a browser-session cookie)."""
    touch: Touch | None = getattr(request, _NEW, None)
    if touch is None:
        return
    response.set_signed_cookie(
        COOKIE,
        json.dumps({"k": touch.kind, "p": touch.products}, separators=(",", ":")),
        salt=_SALT,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
