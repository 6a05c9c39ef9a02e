"""/metrics for Prometheus: django-prometheus' request and database metrics plus visual
search's (visualsearch/metrics.py), answered only to the monitoring network
(METRICS_ALLOWED_NETWORKS, by the connecting address: behind the proxy, list the monitoring
hosts' addresses as nginx forwards them); everyone else gets a plain 404."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from core.ratelimit import client_ip


def _allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(client_ip(request)):
        raise Http404("No such page.")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
