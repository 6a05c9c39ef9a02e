"""Bad input to the shop: unknown, non-numeric or inactive product ids, and hostile or broken
catalogue query strings. Each answers a 404 or a 200, never a 500, and the search text is shown
escaped. docs/security.md "Bad input" lists each case with the test that proves it (visual
search's own cases: visualsearch/tests/test_bad_input.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from shop.models import Product
from tests.support.catalogue import stored_catalogue
from tests.support.uploads import SCRIPT, assert_not_echoed

pytestmark = pytest.mark.django_db

CATALOGUE_SIZE = 24


@pytest.fixture
def site(db) -> list[Product]:
    """24 products on random vectors (no model): the site is up and not empty, so what the
    tests check is the answer to the bad input, not an empty catalogue."""
    return stored_catalogue(CATALOGUE_SIZE)


@pytest.mark.parametrize(
    "url",
    [
        "/products/999999/",
        "/products/abc/",
        "/products/-1/",
        "/products/99999999999999999999999/",
    ],
)
def test_unknown_or_non_numeric_product_ids_are_404(client: Client, site, url: str) -> None:
    """The product pages (find similar's pages and API: visualsearch/tests/test_bad_input.py)."""
    response = client.get(url)
    assert response.status_code == 404
    assert "couldn’t find that page" in response.content.decode()


def test_inactive_product_is_404(client: Client, site) -> None:
    product = site[0]
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert client.get(f"/products/{product.pk}/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"gender": "Martian"},
        {"page": "abc"},
        {"page": "-5"},
        {"page": "99999999999999999999"},
        {"sort": "bogus"},
        {"q": "(.*[unclosed"},
        {"q": "x" * 5000},
        {"q": "a\x00b"},
        {"gender": "Men\x00"},
        {"sort": "\x00"},
    ],
    ids=lambda q: repr(q)[:40],
)
def test_catalogue_query_strings(client: Client, site, query: dict[str, str]) -> None:
    response = client.get("/", query)
    assert response.status_code == 200


def test_catalogue_search_text_is_escaped(client: Client, site) -> None:
    response = client.get("/", {"q": SCRIPT})
    assert response.status_code == 200
    body = response.content.decode()
    assert_not_echoed(body)
    assert "&lt;script&gt;" in body
