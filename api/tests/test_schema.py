"""/api/v1/openapi.json is a valid OpenAPI 3 document that lists every endpoint, its error
answers in the one envelope, and the key header as its security scheme."""

from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("get", "/api/v1/products"),
    ("get", "/api/v1/products/{product_id}"),
    ("get", "/api/v1/facets"),
    ("get", "/api/v1/suggestions"),
    ("get", "/api/v1/products/{product_id}/similar"),
    ("post", "/api/v1/search/photo"),
    ("get", "/api/v1/search/photo"),
    ("post", "/api/v1/bags"),
    ("get", "/api/v1/bags/{token}"),
    ("post", "/api/v1/bags/{token}/lines"),
    ("patch", "/api/v1/bags/{token}/lines/{line_id}"),
    ("delete", "/api/v1/bags/{token}/lines/{line_id}"),
}


def test_the_schema_is_valid_openapi_3_listing_the_endpoints(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["version"] == "1.0.0"
    listed = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert listed == OPERATIONS
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"401", "403", "429"} <= statuses, (method, path)
            for status in statuses - {"200", "201"}:
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorOut", (method, path, status)


def test_photo_search_takes_a_multipart_upload(client: Client) -> None:
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/search/photo"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"image", "box", "k", "in_stock"} <= set(form["properties"])
    assert "image" in form["required"]
