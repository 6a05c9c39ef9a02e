"""The unversioned endpoints keep working, marked deprecated with their successor and sunset."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db


def test_old_find_similar_still_answers_and_says_it_is_deprecated(client: Client, catalogue, settings) -> None:
    product = catalogue[0]
    old = client.get(f"/api/products/{product.pk}/similar", {"k": 3})
    new = client.get(f"/api/v1/products/{product.pk}/similar", {"k": 3})
    assert old.status_code == 200
    assert [r["id"] for r in old.json()["results"]] == [r["id"] for r in new.json()["results"]]
    assert old["Deprecation"] == "@1796601600"  # 2026-12-07, RFC 9745
    assert old["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert old["Link"] == f'</api/v1/products/{product.pk}/similar>; rel="successor-version"'
    assert "Deprecation" not in new
    settings.API_LEGACY_SUNSET = "2027-09-01"
    assert client.get(f"/api/products/{product.pk}/similar")["Sunset"] == "Wed, 01 Sep 2027 00:00:00 GMT"


def test_old_photo_search_errors_are_marked_too(client: Client, catalogue) -> None:
    response = client.post("/api/search/photo", {"image": SimpleUploadedFile("x.jpg", b"nope", "image/jpeg")})
    assert response.status_code == 400
    assert response["Link"] == '</api/v1/search/photo>; rel="successor-version"'
    assert response["Sunset"]
    missing = client.get("/api/products/999999/similar")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
    assert missing["Deprecation"] and missing["Sunset"]
