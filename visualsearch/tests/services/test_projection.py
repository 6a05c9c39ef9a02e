"""Fitting the PCA projection (visualsearch.services.projection): only with enough embeddings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shop.models import Product
from visualsearch.index.loading import exact_index_load
from visualsearch.services import projection
from visualsearch.tests.index.support import catalogue_embed

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def catalogue(make_product: Callable[..., Product]) -> list[Product]:
    """24 real catalogue products over the common article types, embedded."""
    return catalogue_embed(make_product)


def test_pca_needs_enough_embeddings(catalogue: list[Product], settings) -> None:
    settings.VISUALSEARCH_PCA_MIN_ROWS = 1000
    assert projection.projection_fit() is None
    assert exact_index_load()[0].projected is False
    settings.VISUALSEARCH_INDEX_DIMS = 0
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10
    assert projection.projection_fit() is None
