"""Who is calling (a partner's key or an anonymous client) and how often they may.

Every operation takes the optional ``X-API-Key`` header: no header is an anonymous client,
a bad or revoked key is refused (401). Limits go through ``core.ratelimit``: a keyed client
counts against its key's own budget (``ApiKey.rate_limit`` or ``API_KEY_RATE``), whatever its
address; an anonymous one against its address, in the group the endpoint names (the searches
keep today's groups, the rest share ``API_ANONYMOUS_RATE``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyHeader
from ninja.throttling import BaseThrottle

from api.conf import api_settings
from api.models import ApiKey
from api.services import Forbidden, api_key_authenticate
from core.errors import PayloadTooLarge
from core.ratelimit import Rate, client_key, hit, rate_for
from visualsearch.conf import vs_settings

# The limiter's group for keyed clients (one counter per key) and for anonymous reads.
KEY_GROUP = "api_key"
ANONYMOUS_GROUP = "api_anonymous"
# Multipart overhead allowed on top of the photo itself.
_FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Caller:
    key: ApiKey | None = None

    def __bool__(self) -> bool:  # ninja treats a falsy result as "not authenticated"
        return True

    def require(self, scope: str) -> None:
        if self.key is not None and scope not in self.key.scopes:
            raise Forbidden(f"This API key does not have the “{scope}” scope.")


class ApiKeyAuth(APIKeyHeader):
    """``X-API-Key: lk_…``; optional (anonymous callers get anonymous limits)."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller:
        if key is None:
            return Caller()
        return Caller(api_key_authenticate(key))


def caller(request: HttpRequest) -> Caller:
    found = getattr(request, "auth", None)
    return found if isinstance(found, Caller) else Caller()


class Limit(BaseThrottle):
    """A rate limit through core.ratelimit. ``scope``: what the key must allow. ``group``: the
    anonymous clients' budget (a RATELIMITS group, or None for API_ANONYMOUS_RATE). ``upload``:
    refuse a body declared larger than a photo may be (413) before it is read."""

    def __init__(self, scope: str, group: str | None = None, *, upload: bool = False) -> None:
        self.scope = scope
        self.group = group
        self.upload = upload
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        who = caller(request)
        who.require(self.scope)
        self._local.wait = None
        if settings.RATELIMIT_ENABLED:
            if who.key is not None:
                rate = Rate.parse(who.key.rate_limit or api_settings.KEY_RATE)
                wait = hit(KEY_GROUP, str(who.key.pk), rate)
            elif self.group is not None:
                wait = hit(self.group, client_key(request), rate_for(self.group))
            else:
                wait = hit(ANONYMOUS_GROUP, client_key(request), Rate.parse(api_settings.ANONYMOUS_RATE))
            if wait:
                self._local.wait = wait
                return False
        if self.upload and _declared_length(request) > int(vs_settings.MAX_UPLOAD_BYTES) + _FORM_OVERHEAD:
            raise PayloadTooLarge(f"The photo is too large; the limit is {vs_settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
        return True

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def photo_limit() -> Limit:
    """Photo search: the RATELIMITS["photo_search"] budget (shared with the page) for anonymous
    clients, and an upload refused by its declared length before it is read."""
    return Limit("read", "photo_search", upload=True)
