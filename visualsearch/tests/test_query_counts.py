"""Find similar's SQL queries per request, with the index loaded and the ranking cached: three
(the query product, the results, their sizes) however many results, page or API."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shop.models import Product, ProductVariant
from tests.support.embeddings import store_vector

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(make_product: Callable[..., Product], settings) -> list[Product]:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 60  # steady state: the change log read every minute
    products = [make_product(name=f"Item {i}") for i in range(30)]
    rng = np.random.default_rng(0)
    for product in products:
        store_vector(product, rng.standard_normal(2048))
        ProductVariant.objects.create(product=product, size="M", stock=2)
        ProductVariant.objects.create(product=product, size="L", stock=0)
    return products


def _queries(client: Client, path: str) -> int:
    client.get(path)  # loads the index, caches the ranking
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("prefix", ["/api/products", "/api/v1/products"])
def test_the_api_answers_in_three_queries_however_many_results(
    client: Client, catalogue: list[Product], prefix: str
) -> None:
    product = catalogue[0]
    few = _queries(client, f"{prefix}/{product.pk}/similar?k=3")
    many = _queries(client, f"{prefix}/{product.pk}/similar?k=20")
    assert few == many == 3
    assert len(client.get(f"{prefix}/{product.pk}/similar?k=20").json()["results"]) == 20


def test_the_page_answers_in_three_queries(client: Client, catalogue: list[Product]) -> None:
    counts = {_queries(client, f"/products/{p.pk}/similar/") for p in catalogue[:3]}
    assert counts == {3}
