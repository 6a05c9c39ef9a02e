"""Visual search sells: stock is a filter the index knows (refreshed through the change log),
"in stock only" is on by default on the pages, and a sold-out product's page offers the
products most like it that are in stock."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from shop.models import Product, ProductVariant
from shop.services import catalogue_changes_announce
from tests.support.embeddings import store_vector
from visualsearch.index import get_index
from visualsearch.query.similar import SimilarResult, similar_to_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def line_of_shirts(make_product) -> list[Product]:
    """Eight shirts on a line of known vectors (i is closest to i±1); odd ones sold out."""
    products = []
    for i in range(8):
        product = make_product(name=f"Shirt {i}")
        ProductVariant.objects.create(product=product, size="M", stock=0 if i % 2 else 3)
        store_vector(product, on_the_line(i))
        products.append(product)
    return products


def on_the_line(i: int) -> np.ndarray:
    vector = np.zeros(2048)
    vector[0], vector[1] = np.cos(i * 0.15), np.sin(i * 0.15)
    return vector


def names(result: SimilarResult) -> list[str]:
    return [item.product.name for item in result.results]


def test_in_stock_only_keeps_products_with_stock(line_of_shirts: list[Product]) -> None:
    third = line_of_shirts[3]
    assert names(similar_to_product(third, k=2)) == ["Shirt 2", "Shirt 4"]
    assert names(similar_to_product(third, k=3, toggles={"in_stock": "on"})) == ["Shirt 2", "Shirt 4", "Shirt 0"]


def test_a_stock_change_reaches_the_index_through_the_change_log(line_of_shirts: list[Product]) -> None:
    third = line_of_shirts[3]
    assert "Shirt 1" not in names(similar_to_product(third, k=3, toggles={"in_stock": "on"}))
    ProductVariant.objects.filter(product=line_of_shirts[1]).update(stock=5)
    catalogue_changes_announce([line_of_shirts[1].pk])  # what orders and the admin do after a stock change
    get_index().ensure_fresh()
    assert names(similar_to_product(third, k=3, toggles={"in_stock": "on"}))[2] == "Shirt 1"


def test_find_similar_page_is_in_stock_only_until_the_shopper_says_otherwise(line_of_shirts: list[Product]) -> None:
    third = line_of_shirts[3]
    client = Client()
    first_visit = client.get(f"/products/{third.pk}/similar/")
    ticked = {key for key, _label, on in first_visit.context["refinements"] if on}
    assert ticked == {"in_stock"}
    assert all(item.product.in_stock for item in first_visit.context["result"].results)
    switched_off = client.get(f"/products/{third.pk}/similar/?refined=1")
    assert not any(on for _key, _label, on in switched_off.context["refinements"])
    assert "Shirt 5" in [item.product.name for item in switched_off.context["result"].results]


def test_api_filters_by_stock_when_asked(line_of_shirts: list[Product]) -> None:
    third = line_of_shirts[3]
    client = Client()
    everything = client.get(f"/api/products/{third.pk}/similar?k=4").json()
    in_stock = client.get(f"/api/products/{third.pk}/similar?k=4&in_stock=1").json()
    assert any(not row["in_stock"] for row in everything["results"])
    assert in_stock["filters"] == {"in_stock": True} and all(row["in_stock"] for row in in_stock["results"])


def test_a_sold_out_product_page_offers_five_similar_in_stock(line_of_shirts: list[Product], make_product) -> None:
    for i in range(8, 12):  # more in-stock shirts further along the line
        product = make_product(name=f"Shirt {i}")
        ProductVariant.objects.create(product=product, size="M", stock=2)
        store_vector(product, on_the_line(i))
    sold_out = line_of_shirts[3]
    page = Client().get(sold_out.get_absolute_url()).content.decode()
    assert "Sold out, but these look like it and are in stock" in page
    section = page.split("similar-in-stock-title", 1)[1].split("</section>", 1)[0]
    shown = [name for name in (f"Shirt {i}" for i in range(12)) if f">{name}<" in section]
    assert shown == ["Shirt 0", "Shirt 2", "Shirt 4", "Shirt 6", "Shirt 8"]  # in stock; the sold-out ones left out
    in_stock_page = Client().get(line_of_shirts[2].get_absolute_url()).content.decode()
    assert "Sold out, but these look like it" not in in_stock_page


def test_photo_search_form_has_in_stock_only_ticked(line_of_shirts: list[Product]) -> None:
    form = Client().get("/search/photo/").context["form"]
    assert form["in_stock"].value() is True
