"""The photo search answer's exact match in the published schema (the behaviour itself, with
real photos through the real model: visualsearch/tests/test_exact_match.py)."""

from __future__ import annotations

from django.test import Client


def test_photo_search_answers_document_the_exact_match(client: Client) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    photo = schemas["PhotoSearchOut"]["properties"]
    exact = photo["exact_match"]
    refs = [option.get("$ref") for option in exact.get("anyOf", [])]
    assert "#/components/schemas/SimilarItem" in refs and {"type": "null"} in exact["anyOf"]
    assert "in_stock" in exact["description"]
    assert schemas["SimilarItem"]["properties"]["exact"]["type"] == "boolean"
