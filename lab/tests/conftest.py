"""The lab tests' shared fixture: the known catalogue as products with stored vectors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lab.tests.known_catalogue import X, Y, known_vectors
from shop.models import Product
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding


@pytest.fixture
def known_products(make_product: Callable[..., Product], make_image: Callable[..., bytes]) -> list[Product]:
    """The known catalogue as products with stored vectors of the current model (no model run)."""
    image = make_image(size=(8, 8))
    products = []
    for (article_type, sub, master, colour, gender), vector in zip(X + Y, known_vectors(), strict=True):
        product = make_product(
            image=image,
            article_type=article_type,
            sub_category=sub,
            master_category=master,
            base_colour=colour,
            gender=gender,
        )
        ProductEmbedding.objects.update_or_create(
            product=product,
            defaults={
                "vector": vector.astype("<f4").tobytes(),
                "status": EmbeddingStatus.DONE,
                "model_version": MODEL_VERSION,
            },
        )
        products.append(product)
    return products
