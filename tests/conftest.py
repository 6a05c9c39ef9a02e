"""Shared fixtures: images made by the tests, products saved through storage, a small
subset of the real catalogue, and the real model."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = Path(os.environ.get("CATALOG_DIR", ROOT.parent / "shared" / "datasets" / "fashion-small"))


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
        defaults: dict[str, object] = {
            "name": f"Test Product {n}",
            "gender": "Men",
            "master_category": "Apparel",
            "sub_category": "Topwear",
            "article_type": "Tshirts",
            "base_colour": "Red",
            "season": "Summer",
            "year": 2012,
            "usage": "Casual",
        }
        defaults.update(fields)
        product = Product(**defaults)
        product.image.save(f"test-{n}.jpg", ContentFile(image if image is not None else image_bytes()), save=False)
        product.save()
        return product

    return factory


def catalogue_dir() -> Path:
    if not (CATALOGUE_DIR / "styles.csv").is_file():
        pytest.fail(
            f"The shared catalogue is missing at {CATALOGUE_DIR}: set CATALOG_DIR to a Fashion Product Images "
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


@pytest.fixture
def small_catalogue(tmp_path: Path) -> Path:
    """40 real products spread over the common article types, in the import layout."""
    return write_catalogue(tmp_path / "catalogue", catalogue_rows(40))


@pytest.fixture(scope="session")
def real_weights() -> None:
    """The real ResNet50 weights must be installed; a missing file fails with what to do."""
    from visualsearch import weights

    try:
        weights.resolve_weights_path()
    except weights.WeightsNotFound as exc:
        pytest.fail(str(exc), pytrace=False)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)
