"""Every failure under /api/ answers the one envelope ``{"error": {"message", "status"}}``:
invalid input (with the fields), unknown paths, wrong methods, unreadable bodies, CSRF."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    return error


def test_invalid_input_names_the_fields(client: Client) -> None:
    error = assert_envelope(client.get("/api/v1/products", {"page": "0", "sort": "cheapest"}), 400)
    assert {f["field"] for f in error["fields"]} == {"query.page", "query.sort"}
    assert error["message"].startswith("Invalid input: ")
    assert_envelope(client.get("/api/v1/products/abc"), 400)
    assert_envelope(client.get(f"/api/v1/products/{2**63}"), 400)
    assert_envelope(client.get("/api/v1/bags/has%20space"), 400)


def test_unreadable_bodies(client: Client) -> None:
    token = client.post("/api/v1/bags").json()["token"]
    assert_envelope(client.post(f"/api/v1/bags/{token}/lines", "not json", content_type="application/json"), 400)
    error = assert_envelope(client.post(f"/api/v1/bags/{token}/lines", {}, content_type="application/json"), 400)
    assert error["fields"] == [{"field": "body.body.variant_id", "message": "Field required"}]


def test_nul_characters_never_reach_the_database(client: Client, catalogue) -> None:
    response = client.get("/api/v1/products?q=shi%00rt&gender=M%00en")
    assert response.status_code == 200
    assert client.get("/api/v1/facets?q=%00").status_code == 200


def test_wrong_method_is_405_json_with_allow(client: Client) -> None:
    error = assert_envelope(client.put("/api/v1/products"), 405)
    assert error["message"] == "Use GET for this endpoint."
    assert client.put("/api/v1/products")["Allow"] == "GET"


def test_unknown_paths_are_404_json(client: Client) -> None:
    assert_envelope(client.get("/api/v1/nothing"), 404)
    error = assert_envelope(client.get("/api/v1/products/"), 404)
    assert "no trailing slash" in error["message"]


def test_csrf_failures_under_api_are_json_and_pages_keep_their_page() -> None:
    browser = Client(enforce_csrf_checks=True)
    error = assert_envelope(browser.post("/api/anything", {"a": "b"}), 403)
    assert error["message"].startswith("CSRF check failed")
    page = browser.post("/bag/add/", {"variant": "1"})
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_the_schema_and_docs_need_no_key(client: Client) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
