"""Catalogue products for the index tests: real catalogue photos (or images made here) saved
through storage, with embeddings computed by the real model through
visualsearch.services.embeddings."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageEnhance

from shop.models import Product
from tests.support.catalogue import catalogue_photo, product_fields, rows_with_images
from visualsearch.services import embeddings


def stored_photo(product: Product) -> bytes:
    with product.image.open("rb") as handle:
        return handle.read()


def product_from_row(make_product: Callable[..., Product], row: dict[str, str], **overrides: object) -> Product:
    fields: dict[str, object] = {
        **product_fields(row),
        "season": row["season"],
        "usage": row["usage"],
        "year": int(row["year"]) if row["year"] else None,
    }
    fields.update(overrides)
    return make_product(image=catalogue_photo(row), **fields)


def embed(*products: Product) -> None:
    result = embeddings.embeddings_compute([p.pk for p in products])
    assert result.failed == 0


def near_duplicate(data: bytes) -> bytes:
    """The same photo a little brighter, re-encoded: what a shopper's copy of it looks like."""
    image = ImageEnhance.Brightness(Image.open(io.BytesIO(data)).convert("RGB")).enhance(1.08)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def catalogue_embed(make_product: Callable[..., Product], count: int = 24) -> list[Product]:
    """``count`` real catalogue products over the common article types, embedded."""
    products = [product_from_row(make_product, row) for row in rows_with_images(count)]
    embed(*products)
    return products
