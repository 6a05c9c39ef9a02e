"""Products, one product and facets through the API: the storefront's filters, sort, text
search and pages, on real catalogue rows."""

from __future__ import annotations

from typing import get_args

import pytest
from django.test import Client

from api.schemas import Sort
from shop.selectors import SORTS

pytestmark = pytest.mark.django_db


def test_the_sorts_are_the_storefronts() -> None:
    assert set(get_args(Sort)) == set(SORTS)


def test_products_page_through_in_price_order(client: Client, catalogue) -> None:
    first = client.get("/api/v1/products", {"sort": "price", "page_size": 5}).json()
    assert (first["count"], first["pages"], first["page"], first["page_size"]) == (12, 3, 1, 5)
    prices = [r["price"] for r in first["results"]]
    assert prices == ["500.00", "600.00", "700.00", "800.00", "900.00"]
    last = client.get("/api/v1/products", {"sort": "price", "page_size": 5, "page": 3}).json()
    assert [r["price"] for r in last["results"]] == ["1500.00", "1600.00"]
    past = client.get("/api/v1/products", {"page": 9}).json()
    assert past["results"] == [] and past["count"] == 12
    descending = client.get("/api/v1/products", {"sort": "-price", "page_size": 1}).json()
    assert descending["results"][0]["price"] == "1600.00"


def test_filters_combine_like_the_storefront(client: Client, catalogue) -> None:
    men = [p for p in catalogue if p.gender == "Men"]
    body = client.get("/api/v1/products", {"gender": "Men", "page_size": 100}).json()
    assert {r["id"] for r in body["results"]} == {p.pk for p in men}
    both = client.get("/api/v1/products?gender=Men&gender=Women&page_size=100").json()
    assert both["count"] == len([p for p in catalogue if p.gender in ("Men", "Women")])
    cheap = client.get("/api/v1/products", {"max_price": 800, "page_size": 100}).json()
    assert sorted(r["price"] for r in cheap["results"]) == ["500.00", "600.00", "700.00", "800.00"]


def test_text_search_ranks_by_relevance(client: Client, catalogue) -> None:
    shirt = next(p for p in catalogue if p.article_type == "Shirts")
    body = client.get("/api/v1/products", {"q": "shirt"}).json()
    assert body["sort"] == "relevance"
    assert shirt.pk in {r["id"] for r in body["results"]}
    assert client.get("/api/v1/products", {"q": "zzqxv"}).json()["count"] == 0
    # Relevance without text falls back to newest, as on the storefront.
    assert client.get("/api/v1/products", {"sort": "relevance"}).json()["sort"] == "newest"


def test_a_product_has_its_sizes_stock_price_and_images(client: Client, catalogue) -> None:
    product = catalogue[3]
    body = client.get(f"/api/v1/products/{product.pk}").json()
    assert body["name"] == product.name and body["price"] == "800.00" and body["currency"] == "INR"
    assert [(s["size"], s["stock"], s["in_stock"]) for s in body["sizes"]] == [
        ("One size", 5, True),
        ("S", 3, True),
        ("M", 0, False),
    ]
    assert body["in_stock"] is True
    assert body["image_url"].startswith("http://testserver/media/")
    assert body["url"] == f"http://testserver/products/{product.pk}/"


def test_inactive_and_unknown_products_are_404(client: Client, catalogue) -> None:
    catalogue[0].is_active = False
    catalogue[0].save(update_fields=["is_active"])
    for product_id in (catalogue[0].pk, 999_999):
        response = client.get(f"/api/v1/products/{product_id}")
        assert response.status_code == 404
        assert response.json() == {"error": {"message": f"No active product with id {product_id}.", "status": 404}}


def test_facets_count_the_alternatives(client: Client, catalogue) -> None:
    body = client.get("/api/v1/facets", {"gender": "Men"}).json()
    facets = {f["param"]: f for f in body["facets"]}
    assert body["count"] == len([p for p in catalogue if p.gender == "Men"])
    genders = {v["value"]: (v["count"], v["selected"]) for v in facets["gender"]["values"]}
    # The gender facet ignores its own selection: every gender with its full count.
    for gender in {p.gender for p in catalogue}:
        assert genders[gender] == (len([p for p in catalogue if p.gender == gender]), gender == "Men")
    types = sum(v["count"] for v in facets["type"]["values"])
    assert types == body["count"]
    assert facets["type"]["label"] == "Product type"  # the storefront's label
