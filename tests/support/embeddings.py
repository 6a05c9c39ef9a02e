"""Reading, and breaking, what the embedding services stored for a product."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

if TYPE_CHECKING:
    from shop.models import Product
    from visualsearch.models import ProductEmbedding

# Plain product photos of three colours (tests.support.images.image_bytes).
RED, BLUE, GREEN = (200, 30, 30), (30, 60, 200), (40, 160, 60)


def embedding(product: Product) -> ProductEmbedding:
    from visualsearch.models import ProductEmbedding

    return ProductEmbedding.objects.get(product=product)


def overwrite(name: str, data: bytes) -> None:
    """Replace a stored file's bytes through the storage API (same name)."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(data)) == name


def store_vector(product: Product, vector: object | None = None, *, seed: int = 0) -> None:
    """Give ``product`` a done embedding: ``vector`` (2048 floats, normalised here), or a
    random unit vector from ``seed``. No model, no change-log entry."""
    import numpy as np

    from visualsearch.ml.embedder import MODEL_VERSION
    from visualsearch.models import EmbeddingStatus, ProductEmbedding

    values = np.random.default_rng(seed).standard_normal(2048) if vector is None else np.asarray(vector)
    values = (values / np.linalg.norm(values)).astype("<f4")
    ProductEmbedding.objects.update_or_create(
        product=product,
        defaults={"vector": values.tobytes(), "status": EmbeddingStatus.DONE, "model_version": MODEL_VERSION},
    )
