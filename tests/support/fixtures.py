"""Shared fixtures: images made by the tests, products saved through storage, a small
subset of the real catalogue, and the real model."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from tests.support.catalogue import CATALOGUE_DIR, ROOT, catalogue_dir, catalogue_rows, write_catalogue
from tests.support.products import PRODUCT_ATTRIBUTES

# The catalogue helpers live in tests.support.catalogue; `from tests.conftest import ...` still finds them.
__all__ = ["CATALOGUE_DIR", "ROOT", "catalogue_dir", "catalogue_rows", "image_bytes", "unit", "write_catalogue"]


def image_bytes(
    colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (60, 80), fmt: str = "JPEG", **save: object
) -> bytes:
    """A plain image of one colour with a darker square in it (so it is not flat)."""
    image = Image.new("RGB", size, colour)
    w, h = size
    darker = tuple(max(c - 90, 0) for c in colour)
    image.paste(Image.new("RGB", (max(w // 3, 1), max(h // 3, 1)), darker), (w // 3, h // 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    return image_bytes


@pytest.fixture(autouse=True)
def _fresh_search_index() -> Iterator[None]:
    """Each test starts with this process's index unloaded (it reads the test's database)."""
    from visualsearch.index import reset_index

    reset_index()
    yield
    reset_index()


@pytest.fixture
def make_product(db) -> Callable[..., object]:
    """Create a product whose image is saved through the storage API."""
    from shop.models import Product

    counter = {"n": 0}

    def factory(image: bytes | None = None, **fields: object) -> Product:
        counter["n"] += 1
        n = counter["n"]
        defaults: dict[str, object] = {"name": f"Test Product {n}", **PRODUCT_ATTRIBUTES, "year": 2012}
        defaults.update(fields)
        product = Product(**defaults)
        product.image.save(f"test-{n}.jpg", ContentFile(image if image is not None else image_bytes()), save=False)
        product.save()
        return product

    return factory


@pytest.fixture
def small_catalogue(tmp_path: Path) -> Path:
    """40 real products spread over the common article types, in the import layout."""
    return write_catalogue(tmp_path / "catalogue", catalogue_rows(40))


@pytest.fixture(scope="session")
def real_weights() -> None:
    """The real ResNet50 weights must be installed; a missing file fails with what to do."""
    from visualsearch.ml import weights

    try:
        weights.resolve_weights_path()
    except weights.WeightsNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)
