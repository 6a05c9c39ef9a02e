"""The API object: version 1 under /api/v1/, its routers, keys, limits and error envelope."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Swagger
from ninja.parser import Parser

from api.endpoints import bag, catalogue, search, suggestions
from api.errors import install_error_handlers
from api.security import ApiKeyAuth

DESCRIPTION = """The Lookalike shop's catalogue, visual search and bag, for mobile apps and other storefronts.

**Authentication:** anonymous calls work with per-address limits; partners send their key in the
`X-API-Key` header and get their own limit. The browser session's bag (`/bags/current`) needs the
CSRF token on writes.

**Errors:** always `{"error": {"message": "…", "status": N}}` (400 adds `fields`).

Guide: docs/api.md in the repository."""


_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


class EmptyBodyParser(Parser):
    """An empty body, or a form with no fields, reads as ``{}`` (``POST /bags`` with nothing to
    put in the bag yet, as ``curl -X POST`` or a form library sends it)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        if request.content_type in _FORMS and not request.POST and not request.FILES:
            return {}
        return super().parse_body(request)


api_v1 = NinjaAPI(
    title="Lookalike API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
    docs=Swagger(settings={"persistAuthorization": True, "tryItOutEnabled": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=EmptyBodyParser(),
)
install_error_handlers(api_v1)
api_v1.add_router("", catalogue.router)
api_v1.add_router("", search.router)
api_v1.add_router("", bag.router)
api_v1.add_router("", suggestions.router)
