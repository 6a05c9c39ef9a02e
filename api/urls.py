"""/api/v1/ (the versioned API, its schema and docs) and the deprecated unversioned paths."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path

from api.api import api_v1
from api.legacy import legacy_urlpatterns
from core.errors import json_error


def _json_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """ninja answers a wrong method with a plain-text 405: here it is the JSON envelope (Allow kept)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = json_error(f"Use {allowed.replace(', ', ' or ')} for this endpoint.", 405)
            response["Allow"] = allowed
        return response

    return wrapped


_patterns, _app_name, _namespace = api_v1.urls
v1_patterns = [
    URLPattern(p.pattern, _json_not_allowed(p.callback), p.default_args, p.name) if isinstance(p, URLPattern) else p
    for p in _patterns
]

urlpatterns = [
    path("api/v1/", (v1_patterns, _app_name, _namespace)),
    *legacy_urlpatterns,
]
