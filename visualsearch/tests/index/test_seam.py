"""VISUALSEARCH_INDEX_CLASS is a real seam: the search services, pages and API run on a
second, trivial SearchIndex and give the exact ranking."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client, override_settings

from shop.models import Product
from tests.support.brute_force_index import BruteForceIndex
from visualsearch.index import SearchIndex, get_index, reset_index
from visualsearch.index.loading import LiveIndex
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.query.similar import similar_to_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def vectors_catalogue(make_product) -> list[Product]:
    """Eight products on a line of known vectors: product i is closest to i±1."""
    products = []
    for i in range(8):
        product = make_product(name=f"Shirt {i}", base_colour="Blue" if i % 2 else "Red")
        angle = i * 0.15
        vector = np.zeros(2048, dtype="<f4")
        vector[0], vector[1] = np.cos(angle), np.sin(angle)
        ProductEmbedding.objects.update_or_create(
            product=product,
            defaults={"vector": vector.tobytes(), "status": EmbeddingStatus.DONE, "model_version": MODEL_VERSION},
        )
        products.append(product)
    return products


@override_settings(VISUALSEARCH_INDEX_CLASS="tests.support.brute_force_index.BruteForceIndex")
def test_search_services_pages_and_api_run_on_another_index(vectors_catalogue: list[Product]) -> None:
    reset_index()
    assert isinstance(get_index(), BruteForceIndex) and isinstance(get_index(), SearchIndex)
    third = vectors_catalogue[3]
    result = similar_to_product(third, k=4)
    assert [item.product.name for item in result.results] == ["Shirt 2", "Shirt 4", "Shirt 1", "Shirt 5"]
    only_blue = similar_to_product(third, k=2, toggles={"same_colour": "on"})
    assert [item.product.name for item in only_blue.results] == ["Shirt 1", "Shirt 5"]
    client = Client()
    api = client.get(f"/api/products/{third.pk}/similar?k=2").json()
    assert [row["name"] for row in api["results"]] == ["Shirt 2", "Shirt 4"]
    page = client.get(f"/products/{third.pk}/similar/?refined=1")
    assert page.status_code == 200 and "Shirt 2" in page.content.decode()
    assert client.get("/search/photo/").status_code == 200  # its filter choices come from the index


def test_the_default_index_satisfies_the_protocol() -> None:
    reset_index()
    index = get_index()
    assert isinstance(index, LiveIndex) and not index.uses_artifacts and isinstance(index, SearchIndex)


def test_refinement_toggle_zero_means_off(vectors_catalogue: list[Product]) -> None:
    """?same_colour=0 neither filters nor shows the box ticked (it used to show it ticked)."""
    third = vectors_catalogue[3]
    off = similar_to_product(third, k=2, toggles={"same_colour": "0"})
    assert [item.product.name for item in off.results] == ["Shirt 2", "Shirt 4"]
    page = Client().get(f"/products/{third.pk}/similar/?refined=1&same_colour=0")
    ticked = {key for key, _label, on in page.context["refinements"] if on}
    assert ticked == set()
    page = Client().get(f"/products/{third.pk}/similar/?refined=1&same_colour=on")
    assert {key for key, _label, on in page.context["refinements"] if on} == {"same_colour"}
