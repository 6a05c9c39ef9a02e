"""Per-client rate limits, counted in the "ratelimit" cache (Redis in production).

A fixed window per client and group: the first request of a window creates the counter
(``cache.add``, expiring with the window), each request increments it (``cache.incr``,
atomic in Redis), and a request over the limit gets 429 with ``Retry-After`` = the seconds
left in the window. A client can at most send twice its limit across a window boundary,
which is fine for these limits (they stop floods, not careful users).

The client is ``REMOTE_ADDR``; on a request from our proxy (``settings.BEHIND_PROXY`` and a
connection from one of ``settings.TRUSTED_PROXIES``, core/forwarded.py) it is the last
``X-Forwarded-For`` address, the one the proxy itself added. IPv6 clients are counted per
/64, the block one subscriber gets.

When the cache cannot be reached the request goes through (and a warning is logged): a
Redis outage must not take the shop down with it. After a failure the process does not
try the cache again for CACHE_RETRY_SECONDS, so a frozen Redis costs one request 0.5 s (the
socket timeout), not every request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core.errors import json_error
from core.forwarded import from_trusted_proxy

log = logging.getLogger(__name__)

CACHE_ALIAS = "ratelimit"
CACHE_RETRY_SECONDS = 5.0
_clock = time.time  # the windows' clock (tests pin it)
_cache_down_until = 0.0
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"20/m"``, ``"100/h"``, ``"5/30s"`` (5 per 30 seconds)."""
        try:
            count, _, per = text.strip().partition("/")
            unit = per[-1:].lower()
            multiple = int(per[:-1]) if per[:-1] else 1
            rate = cls(int(count), multiple * _PERIODS[unit])
        except (KeyError, ValueError):
            raise ValueError(f"Bad rate {text!r}: use '<requests>/<period>', e.g. '20/m' or '5/30s'.") from None
        if rate.limit < 1 or rate.period < 1:
            raise ValueError(f"Bad rate {text!r}: the count and the period must be positive.")
        return rate


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or on a request from our proxy the address it added
    last to X-Forwarded-For (earlier entries are whatever the client sent: never trusted)."""
    address = ""
    if getattr(settings, "BEHIND_PROXY", False) and from_trusted_proxy(request):
        address = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
    return address or request.META.get("REMOTE_ADDR", "") or "unknown"


def axes_client_ip(request: HttpRequest) -> str | None:
    """The client's address for django-axes (AXES_CLIENT_IP_CALLABLE): a valid IP or None
    (its records keep addresses in an IP field; force_login's request has none)."""
    try:
        return str(ipaddress.ip_address(client_ip(request)))
    except ValueError:
        return None


def client_key(request: HttpRequest) -> str:
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def rate_for(group: str) -> Rate:
    return Rate.parse(settings.RATELIMITS[group])


def hit(group: str, key: str, rate: Rate, *, now: float | None = None) -> int:
    """Count one request of ``key`` in ``group``; 0 if allowed, else the seconds to wait."""
    now = _clock() if now is None else now
    window = int(now // rate.period)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    cache_key = f"{group}:{rate.period}:{window}:{digest}"
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return 0
    cache = caches[CACHE_ALIAS]
    try:
        cache.add(cache_key, 0, timeout=rate.period + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr: this request starts the window
            cache.set(cache_key, 1, timeout=rate.period + 1)
            count = 1
    except Exception as exc:  # cache down: let the request through
        _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
        log.warning("rate limits not checked for %.0f s (cache unavailable: %s)", CACHE_RETRY_SECONDS, exc)
        return 0
    if count <= rate.limit:
        return 0
    return max(1, math.ceil((window + 1) * rate.period - now))


def too_many_requests(request: HttpRequest, retry_after: int, message: str | None = None) -> HttpResponse:
    """429: the JSON error envelope under /api/, templates/429.html otherwise."""
    wait = _wait_text(retry_after)
    if request.path.startswith("/api/"):
        response: HttpResponse = json_error(message or f"Too many requests; please try again in {wait}.", 429)
    else:
        html = render_to_string("429.html", {"wait": wait, "message": message}, request=request)
        response = HttpResponse(html, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def ratelimit(group: str, *, methods: Iterable[str] = ("POST",)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Limit a view's ``methods`` requests per client to ``settings.RATELIMITS[group]``.
    Outermost on the view: it runs before the body is read."""
    counted = frozenset(method.upper() for method in methods)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if settings.RATELIMIT_ENABLED and request.method in counted:
                retry_after = hit(group, client_key(request), rate_for(group))
                if retry_after:
                    log.info("rate limit %s: %s refused for %d s", group, client_ip(request), retry_after)
                    return too_many_requests(request, retry_after)
            return view(request, *args, **kwargs)

        return limited

    return decorator


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): 429 with Retry-After = the cool-off."""
    cool_off = settings.AXES_COOLOFF_TIME
    seconds = int(cool_off.total_seconds()) if cool_off else 3600
    return too_many_requests(
        request,
        seconds,
        message="Too many failed sign-in attempts for this account from your network. "
        f"Sign-in is locked for {_wait_text(seconds)}.",
    )
