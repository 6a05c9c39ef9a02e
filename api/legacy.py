"""The unversioned endpoints of before /api/v1/ (``/api/products/<id>/similar``,
``/api/search/photo``): the same views and answers, marked deprecated (RFC 9745
``Deprecation``, RFC 8594 ``Sunset``, and a ``Link`` to their successor)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.http import http_date

from api.conf import api_settings
from core.errors import ApplicationError, json_error
from visualsearch import views


def _http_date(day: str) -> str:
    return http_date(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def deprecated(successor: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def marked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response = view(request, *args, **kwargs)
            except ApplicationError as exc:  # answered here, so that errors carry the headers too
                response = json_error(exc.message, exc.status)
            deprecated_at = datetime.fromisoformat(api_settings.LEGACY_DEPRECATED).replace(tzinfo=UTC)
            response["Deprecation"] = f"@{int(deprecated_at.timestamp())}"
            response["Sunset"] = _http_date(api_settings.LEGACY_SUNSET)
            response["Link"] = f'<{successor.format(**kwargs)}>; rel="successor-version"'
            return response

        return marked

    return decorator


legacy_urlpatterns = [
    path(
        "api/products/<int:product_id>/similar",
        deprecated("/api/v1/products/{product_id}/similar")(views.api_similar),
        name="api_similar_legacy",
    ),
    path(
        "api/search/photo", deprecated("/api/v1/search/photo")(views.api_photo_search), name="api_photo_search_legacy"
    ),
]
