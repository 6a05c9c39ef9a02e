"""Price-aware lookalikes: "Similar, but cheaper" and the price sort on find similar (page,
both JSON APIs) and photo search's price rule. The catalogue's look order is known
(tests.support.lookalikes): the five products most like product 0 all cost more than it, the
cheaper ones come later, so "cheaper" must reach into the wider pool and still show five."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import InvalidInput
from shop.models import Product
from tests.support.lookalikes import fanned_catalogue
from visualsearch.index import Hit
from visualsearch.query.pricing import PriceRule, hits_within_price, price_pool, price_rule
from visualsearch.query.similar import similar_to_product

pytestmark = pytest.mark.django_db

QUERY_PRICE = Decimal("1000.00")


@pytest.fixture
def priced() -> list[Product]:
    """30 products; product 0 costs 1000; 1–5 (its closest lookalikes) 1500+; from 6 on, even
    ones are cheaper (and cheaper the further they are), odd ones dearer."""
    products = fanned_catalogue(30)
    for i, product in enumerate(products):
        if i == 0:
            product.price = QUERY_PRICE
        elif i <= 5 or i % 2:
            product.price = Decimal(1500 + 10 * i)
        else:
            product.price = Decimal(900 - 10 * i)
        product.save(update_fields=["price"])
    return products


def test_the_look_order_is_what_the_fixture_says(priced: list[Product]) -> None:
    result = similar_to_product(priced[0], k=8)
    assert [r.product.pk for r in result.results] == [p.pk for p in priced[1:9]]


def test_cheaper_shows_only_cheaper_products_the_best_looking_first(priced: list[Product]) -> None:
    result = similar_to_product(priced[0], k=5, price=PriceRule(cheaper=True))
    ids = [r.product.pk for r in result.results]
    # Five, although none of the five closest is cheaper: the wider pool was searched.
    assert ids == [priced[i].pk for i in (6, 8, 10, 12, 14)]
    assert all(r.product.price is not None and r.product.price < QUERY_PRICE for r in result.results)
    assert result.filters["cheaper_than"] == 1000.0
    assert result.price_rule is not None and result.price_rule.below == QUERY_PRICE


def test_the_price_sort_orders_the_best_lookalikes_never_brings_in_worse_ones(priced: list[Product]) -> None:
    low_high = similar_to_product(priced[0], k=5, price=PriceRule(cheaper=True, sort="price"))
    prices = [r.product.price for r in low_high.results]
    assert prices == sorted(prices) and len(prices) == 5
    assert {r.product.pk for r in low_high.results} == {priced[i].pk for i in (6, 8, 10, 12, 14)}
    high_low = similar_to_product(priced[0], k=5, price=PriceRule(sort="-price"))
    assert {r.product.pk for r in high_low.results} == {p.pk for p in priced[1:6]}
    assert [r.product.price for r in high_low.results] == sorted((p.price for p in priced[1:6]), reverse=True)


def test_nothing_cheaper_within_the_pool_is_an_empty_answer(priced: list[Product], settings) -> None:
    settings.VISUALSEARCH_PRICE_CANDIDATES = 5  # only the five dearer closest ones
    assert similar_to_product(priced[0], k=5, price=PriceRule(cheaper=True)).results == []
    Product.objects.filter(pk=priced[0].pk).update(price=None)
    priced[0].price = None
    settings.VISUALSEARCH_PRICE_CANDIDATES = 100
    assert similar_to_product(priced[0], k=5, price=PriceRule(cheaper=True)).results == []


def test_the_find_similar_page_offers_and_applies_cheaper(client: Client, priced: list[Product]) -> None:
    url = reverse("visualsearch:similar", args=[priced[0].pk])
    page = client.get(url)
    assert page.status_code == 200 and "Similar, but cheaper" in page.text
    cheaper = client.get(url, {"refined": "1", "cheaper": "1", "sort": "price"})
    assert cheaper.status_code == 200
    results = cheaper.context["result"].results
    assert len(results) == 5 and all(r.product.price < QUERY_PRICE for r in results)
    assert [r.product.price for r in results] == sorted(r.product.price for r in results)
    assert "only products under ₹1,000.00" in cheaper.text
    bad = client.get(url, {"refined": "1", "sort": "cheapest"})
    assert bad.status_code == 200 and "sort must be one of" in bad.text


@pytest.mark.parametrize("path", ["/api/v1/products/{}/similar", "/api/products/{}/similar"])
def test_the_apis_take_cheaper_max_price_and_sort(client: Client, priced: list[Product], path: str) -> None:
    url = path.format(priced[0].pk)
    body = client.get(url, {"cheaper": "true", "sort": "-price", "k": 5}).json()
    prices = [Decimal(r["price"]) for r in body["results"]]
    assert len(prices) == 5 and all(p < QUERY_PRICE for p in prices) and prices == sorted(prices, reverse=True)
    assert body["filters"]["cheaper_than"] == 1000.0 and body["filters"]["sort"] == "-price"
    capped = client.get(url, {"max_price": "700", "k": 3}).json()
    capped_prices = [Decimal(r["price"]) for r in capped["results"]]
    assert len(capped_prices) == 3 and all(p <= Decimal(700) for p in capped_prices)
    assert capped["filters"]["max_price"] == 700.0
    assert client.get(url, {"sort": "cheapest"}).status_code == 400


def test_the_legacy_api_refuses_a_bad_max_price(client: Client, priced: list[Product]) -> None:
    response = client.get(f"/api/products/{priced[0].pk}/similar", {"max_price": "lots"})
    assert response.status_code == 400 and "max_price" in response.json()["error"]["message"]


def test_price_rule_parsing() -> None:
    rule = price_rule({"cheaper": "on", "max_price": "1,299.5", "sort": "price"})
    assert rule == PriceRule(cheaper=True, max_price=Decimal("1299.50"), sort="price")
    assert price_rule({}) == PriceRule()
    for bad in ({"max_price": "NaN"}, {"max_price": "-1"}, {"max_price": "1e9"}, {"sort": "newest"}):
        with pytest.raises(InvalidInput):
            price_rule(bad)
    assert price_pool(5, None) == 5 and price_pool(5, PriceRule(sort="price")) == 5
    assert price_pool(5, PriceRule(cheaper=True)) == 100


def test_photo_search_cheaper_is_below_the_best_match_which_is_left_out() -> None:
    hits = [Hit(1, 0.9), Hit(2, 0.8), Hit(3, 0.7), Hit(4, 0.6)]
    prices = {1: Decimal(500), 2: Decimal(600), 3: Decimal(400), 4: None}
    kept, rule = hits_within_price(hits, PriceRule(cheaper=True), 5, reference=1, prices=lambda ids: prices)
    assert [h.product_id for h in kept] == [3] and rule.below == Decimal(500)
    kept, _ = hits_within_price(hits, PriceRule(max_price=Decimal(600)), 2, prices=lambda ids: prices)
    assert [h.product_id for h in kept] == [1, 2]
