"""The API's fixtures: a catalogue on random vectors (a working index without the model),
each product with sizes, and partners' keys."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from api.models import ApiKey
from api.services import api_key_create
from shop.models import Product, ProductVariant
from tests.support.catalogue import stored_catalogue
from visualsearch.query import embedding
from visualsearch.tests.query.photos import fake_embedding


@pytest.fixture
def catalogue(db) -> list[Product]:
    """12 real catalogue products with prices; each has size S (3 in stock) and M (sold out)."""
    products = stored_catalogue(12)
    for n, product in enumerate(products):
        product.price = Decimal(500 + 100 * n)
        product.save(update_fields=["price"])
    ProductVariant.objects.bulk_create(
        [
            ProductVariant(product=p, size=s, sort_order=i, stock=st)
            for p in products
            for i, (s, st) in enumerate([("S", 3), ("M", 0)])
        ]
    )
    return products


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """Photo search embeds with the suite's stand-in for the model (the photo's pixels, block
    averaged: visualsearch/tests/query/photos.py), not TensorFlow."""
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 0.5
    monkeypatch.setattr(embedding, "_installed", fake_embedding)


@pytest.fixture
def make_key(db) -> Callable[..., tuple[ApiKey, str]]:
    def factory(name: str = "Partner", **fields: object) -> tuple[ApiKey, str]:
        return api_key_create(name=name, **fields)  # type: ignore[arg-type]

    return factory
