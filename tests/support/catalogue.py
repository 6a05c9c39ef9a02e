"""The real catalogue in tests: rows of the shared Fashion Product Images (Small) folder, their
photos, the Product fields a row names, and real products made from rows: embedded with the
real model, or stored with given (or random) vectors."""

from __future__ import annotations

import csv
import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from shop.models import Product

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_DIR = Path(os.environ.get("CATALOGUE_DIR", ROOT.parent / "shared" / "datasets" / "fashion-small"))


def catalogue_dir() -> Path:
    if not (CATALOGUE_DIR / "styles.csv").is_file():
        pytest.fail(
            f"The shared catalogue is missing at {CATALOGUE_DIR}: set CATALOGUE_DIR to a Fashion Product Images "
            "(Small) folder (styles.csv + images/).",
            pytrace=False,
        )
    return CATALOGUE_DIR


def catalogue_rows(count: int, *, spread: bool = True) -> list[dict[str, str]]:
    """``count`` real catalogue rows; with ``spread``, round-robin over article types so a
    small subset still has several products of each common type."""
    with (catalogue_dir() / "styles.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not spread:
        return rows[:count]
    by_type: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_type.setdefault(row["articleType"], []).append(row)
    common = sorted((t for t, r in by_type.items() if len(r) >= 50), key=lambda t: -len(by_type[t]))[:20]
    picked: list[dict[str, str]] = []
    i = 0
    while len(picked) < count:
        for article_type in common:
            if i < len(by_type[article_type]) and len(picked) < count:
                picked.append(by_type[article_type][i])
        i += 1
    return picked


def write_catalogue(folder: Path, rows: list[dict[str, str]], *, copy_images: bool = True) -> Path:
    """A catalogue folder in the import layout with these rows (images copied from the real one)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with (folder / "styles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
    if copy_images:
        source = catalogue_dir() / "images"
        for row in rows:
            src = source / f"{row['id']}.jpg"
            if src.exists():
                shutil.copyfile(src, folder / "images" / f"{row['id']}.jpg")
    return folder


def photo_path(row: dict[str, str]) -> Path:
    return catalogue_dir() / "images" / f"{row['id']}.jpg"


def catalogue_photo(row: dict[str, str]) -> bytes:
    """The row's product photo, as stored in the catalogue (JPEG bytes)."""
    return photo_path(row).read_bytes()


def rows_with_images(count: int) -> list[dict[str, str]]:
    """``count`` real catalogue rows spread over the common article types, with their photos."""
    rows = [row for row in catalogue_rows(count * 2) if photo_path(row).is_file()]
    assert len(rows) >= count
    return rows[:count]


def product_fields(row: dict[str, str]) -> dict[str, object]:
    """The Product fields a styles.csv row names: its id, name and the attributes the search
    filters on."""
    return {
        "external_id": row["id"],
        "name": row["productDisplayName"],
        "gender": row["gender"],
        "master_category": row["masterCategory"],
        "sub_category": row["subCategory"],
        "article_type": row["articleType"],
        "base_colour": row["baseColour"],
    }


def embedded_catalogue(make_product: Callable[..., Product], count: int) -> list[Product]:
    """``count`` real catalogue products (photo and fields from their rows) made through the
    ``make_product`` fixture, embedded with the real model."""
    from visualsearch.services import embeddings

    products = [make_product(image=catalogue_photo(row), **product_fields(row)) for row in rows_with_images(count)]
    assert embeddings.embeddings_compute([p.pk for p in products]).done == count
    give_stock(products)
    return products


def give_stock(products: list[Product], stock: int = 5) -> None:
    """One size with stock for each product, as the shop's catalogue has (find-similar pages
    show products in stock by default)."""
    from shop.models import ProductVariant

    ProductVariant.objects.bulk_create(ProductVariant(product=p, size="One size", stock=stock) for p in products)


@functools.cache
def rows_and_photos(count: int) -> tuple[tuple[dict[str, str], bytes], ...]:
    """The first ``count`` of catalogue_rows() with their photos' bytes (read once)."""
    return tuple((row, catalogue_photo(row)) for row in catalogue_rows(count))


def random_unit_vectors(count: int, seed: int = 0) -> list[bytes]:
    vectors = np.random.default_rng(seed).standard_normal((count, 2048)).astype("<f4")
    return [(vector / np.linalg.norm(vector)).tobytes() for vector in vectors]


def stored_catalogue(count: int, vectors: list[bytes] | None = None) -> list[Product]:
    """The first ``count`` real catalogue products (photos in storage, attributes from their
    rows) with done embeddings: ``vectors`` (float32 bytes, in row order), by default random
    unit ones, i.e. a working index without the model. Saved in bulk: no signal fires,
    nothing is queued."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from shop.models import Product
    from visualsearch.ml.embedder import MODEL_VERSION
    from visualsearch.models import EmbeddingStatus, ProductEmbedding

    products = []
    for row, data in rows_and_photos(count):
        name = f"products/catalogue-{row['id']}.jpg"
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        products.append(Product(**product_fields(row), season=row["season"], usage=row["usage"], image=name))
    products = Product.objects.bulk_create(products)
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, vector=vector, status=EmbeddingStatus.DONE, model_version=MODEL_VERSION)
        for p, vector in zip(products, vectors or random_unit_vectors(count), strict=True)
    )
    give_stock(products)
    return products


def products_start_at(first_id: int) -> None:
    """The next products made get ids from ``first_id`` on (PostgreSQL's sequence): the
    product-id split (``visualsearch.ml.head.split_of``) then holds the same training,
    validation and held-out products in every test order."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('shop_product', 'id'), %s, false)", [first_id])
