"""Which requests come from our proxy, and the forwarded headers only from it.

The proxy (deploy/nginx/nginx.conf) sets ``X-Forwarded-For`` and ``X-Forwarded-Proto``,
overwriting what the client sent. They are kept only on connections from one of
``settings.TRUSTED_PROXIES`` (the proxy's addresses or networks): ``ForwardedHeadersMiddleware``
(first in MIDDLEWARE) removes them from every other request, so nothing after it, Django's
``is_secure()`` included, ever sees them; a client that reaches gunicorn directly could
otherwise claim any address (a fresh rate-limit budget, the monitoring network's /metrics) or
https. Whether a kept header is then believed is the settings' call: ``BEHIND_PROXY`` for the
client's address (core/ratelimit.py), ``SECURE_PROXY_SSL_HEADER`` for the scheme.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def proxy_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The networks of a TRUSTED_PROXIES list (ValueError names a bad entry)."""
    try:
        return _networks(tuple(entries))
    except ValueError as exc:
        raise ValueError(f"TRUSTED_PROXIES: {exc}") from None


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the connecting address is one of TRUSTED_PROXIES."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxy_networks(getattr(settings, "TRUSTED_PROXIES", ())))


class ForwardedHeadersMiddleware:
    """Drops the X-Forwarded-* headers of any request that did not come from a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
