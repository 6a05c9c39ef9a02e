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
