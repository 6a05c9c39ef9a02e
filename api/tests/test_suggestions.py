"""GET /api/v1/suggestions: what the header's search box suggests as the shopper types, on
both search backends (PostgreSQL, and an SQLite file with every model routed to it), its shape,
its limits, and bad input answered 400 with the API's error envelope."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from shop.search.suggestions import MAX_SUGGESTIONS, brand_of

pytestmark = pytest.mark.django_db(databases=["default", "sqlite"])
URL = "/api/v1/suggestions"


def suggested(client: Client, text: str, **params) -> list[tuple[str, str]]:
    response = client.get(URL, {"q": text, **params})
    assert response.status_code == 200, response.content
    return [(s["kind"], s["label"]) for s in response.json()["suggestions"]]


def test_types_brands_colours_then_products(client: Client, search_subset) -> None:
    response = client.get(URL, {"q": "sun"})
    assert response.status_code == 200
    assert "max-age=60" in response["Cache-Control"]
    body = response.json()
    assert body["query"] == "sun"
    first, *products = body["suggestions"]
    assert first == {
        "kind": "type",
        "kind_label": "Product type",
        "label": "Sunglasses",
        "url": "/catalogue/?type=Sunglasses",
        "count": 15,
    }
    assert products and all(p["kind"] == "product" and "Sunglasses" in p["label"] for p in products)
    assert all(p["url"].startswith("/products/") and p["count"] is None for p in products)
    names = [p["label"] for p in products]
    assert len(names) == len(set(names))  # one line per name, even for two products named alike


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pu", [("brand", "Puma"), ("colour", "Purple")]),
        ("t-sh", [("type", "T-shirts")]),  # the shoppers' name ("Tshirts" in the data)
        ("tshi", [("type", "T-shirts")]),  # and the data's
        ("louis", [("brand", "Louis Philippe"), ("product", "Louis Philippe Men Grey Sunglasses")]),
        ("sunglases", [("type", "Sunglasses")]),  # a typo: the closest name
        ("zzqqxx", []),
    ],
)
def test_suggestions_on_both_backends(client: Client, search_subset, search_backend, text, expected) -> None:
    assert suggested(client, text)[: len(expected) or None] == expected


def test_a_brand_opens_its_search_and_a_colour_its_filter(client: Client, search_subset) -> None:
    by_label = {s["label"]: s for s in client.get(URL, {"q": "re"}).json()["suggestions"]}
    assert by_label["Red"]["url"] == "/catalogue/?colour=Red" and by_label["Red"]["kind_label"] == "Colour"
    assert by_label["Reid & Taylor"]["url"] == "/catalogue/?q=Reid+%26+Taylor"
    assert client.get(by_label["Reid & Taylor"]["url"]).context["page"].paginator.count == 7


def test_limit(client: Client, search_subset) -> None:
    assert len(suggested(client, "s", limit=2)) == 2
    assert len(suggested(client, "s")) == 8
    # At most 4 types, 3 brands, 2 colours and 3 products, whatever the limit.
    assert 8 <= len(suggested(client, "s", limit=MAX_SUGGESTIONS)) <= MAX_SUGGESTIONS


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 101},
        {"q": "shirt", "limit": "0"},
        {"q": "shirt", "limit": "11"},
        {"q": "shirt", "limit": "many"},
    ],
    ids=["no q", "empty q", "long q", "limit 0", "limit 11", "limit text"],
)
def test_bad_input_is_a_400_with_the_error_envelope(client: Client, params) -> None:
    response = client.get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["fields"]


@pytest.mark.parametrize("text", ["\x00", "%", "'; drop table shop_product; --", '"nike" OR', "*", "ü ß 東京", " "])
def test_odd_text_is_answered(client: Client, search_subset, search_backend, text) -> None:
    response = client.get(URL, {"q": text})
    assert response.status_code == 200
    assert isinstance(response.json()["suggestions"], list)


def test_anonymous_callers_are_rate_limited(client: Client, settings) -> None:
    settings.RATELIMIT_ENABLED = True
    settings.API_ANONYMOUS_RATE = "2/m"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    assert [client.get(URL, {"q": "shirt"}).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    ("name", "brand"),
    [
        ("Louis Philippe Men Grey Sunglasses", "Louis Philippe"),
        ("Giny and Jony Girls Printed White & Pink Dress", "Giny and Jony"),
        ("Nike Men's Incinerate MSL White Blue Shoe", "Nike"),
        ("Lakme Absolute Lip Gloss", "Lakme"),
        ("  Puma   Women Black Heels ", "Puma"),
    ],
)
def test_brand_of_a_name(name, brand) -> None:
    assert brand_of(name) == brand
