"""The JSON API's convention: no trailing slash (``/api/products/<id>/similar``,
``/api/search/photo``). Every unknown path under /api/, with a trailing slash or without,
answers a JSON 404 (one with a slash too many says which path exists), never an HTML page
and never an APPEND_SLASH redirect."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import include, path

from config.errors import api_fallback_urlpatterns

# The site's URLs with the API's catch-all last (config.errors.api_fallback_urlpatterns).
urlpatterns = [path("", include("config.urls")), *api_fallback_urlpatterns]
handler404 = "config.errors.page_not_found"

pytestmark = pytest.mark.django_db

UNKNOWN = ["/api", "/api/", "/api/nothing", "/api/nothing/", "/api/products/abc/similar", "/api/search/photo/x"]


def _error(response) -> str:
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json", response.content[:200]
    return json.loads(response.content)["error"]["message"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_api_paths_are_json_404s(client: Client, path: str) -> None:
    assert _error(client.get(path)) == "Not found: no such API endpoint or product."
    assert _error(client.post(path)) == "Not found: no such API endpoint or product."


def test_a_trailing_slash_is_a_json_404_that_names_the_api_path(client: Client, make_product) -> None:
    product = make_product()
    message = _error(client.get(f"/api/products/{product.pk}/similar/"))
    assert message == f"Not found: API paths have no trailing slash; use /api/products/{product.pk}/similar"
    response = client.post("/api/search/photo/")  # no APPEND_SLASH redirect either way
    assert _error(response) == "Not found: API paths have no trailing slash; use /api/search/photo"
    assert _error(client.get("/api/products/999999/similar")) == "No active product with id 999999."


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_with_the_catch_all_the_api_answers_json_with_debug_on(client: Client, settings, debug: bool) -> None:
    settings.DEBUG = debug  # Django's debug 404 page is HTML and skips handler404
    for unknown in UNKNOWN:
        assert _error(client.get(unknown)) == "Not found: no such API endpoint or product."
    assert _error(client.get("/api/products/19/similar/")).startswith("Not found: API paths have no trailing slash")
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
