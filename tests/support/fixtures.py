"""The shared fixtures, loaded for every test folder by the repository's root ``conftest.py``
(``pytest_plugins``): products saved through storage, a small subset of the real catalogue,
the real model, and each test's own unloaded search index.

Helpers that are not fixtures live in the other modules of ``tests.support``; import them
from there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile

from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.images import image_bytes
from tests.support.products import PRODUCT_ATTRIBUTES

HEAVY_MODULES = ("tensorflow", "keras")
_MODEL_LOADED_BEFORE = pytest.StashKey[bool]()


def _model_loaded() -> bool:
    return any(name in sys.modules for name in HEAVY_MODULES)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_MODEL_LOADED_BEFORE] = _model_loaded()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """The fast tier (``-m "not slow"``) runs without the model: a test that is not marked
    ``slow`` and loads TensorFlow (itself or through its fixtures) fails at its teardown."""
    report = yield
    if (
        call.when == "teardown"
        and item.get_closest_marker("slow") is None
        and not item.stash.get(_MODEL_LOADED_BEFORE, True)
        and _model_loaded()
    ):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} loaded TensorFlow but is not marked slow"
    return report


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    return image_bytes


def _shared_cache_clear(cache: Any) -> None:
    """Empty a shared cache ("search", "catalogue"): only its own keys where it is Redis (the worker's Redis
    database also holds the broker's queues of a live worker)."""
    backend = getattr(cache, "_cache", None)
    if not hasattr(backend, "get_client"):
        cache.clear()
        return
    client = backend.get_client(write=True)
    keys = list(client.scan_iter(match=cache.make_key("*")))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_search_index() -> Iterator[None]:
    """Each test starts with this process's index unloaded and its caches empty (they hold
    what an earlier test's database said)."""
    from django.core.cache import caches

    from visualsearch.index import reset_index

    reset_index()
    caches["default"].clear()
    for alias in ("search", "catalogue"):
        _shared_cache_clear(caches[alias])
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


@pytest.fixture(scope="module")
def real_model(real_weights: None) -> Iterator[None]:
    """The real ResNet50 (the installed weights, never random ones), loaded once per module."""
    from tests.support import random_weights
    from visualsearch.ml import embedder

    with random_weights.weights_mode(False):
        embedder.warm_up()
        yield


@pytest.fixture
def embedded_product(real_model: None, make_product, django_capture_on_commit_callbacks) -> Callable[..., object]:
    """A product saved and committed: its embedding task has run (on the real model)."""

    def factory(image: bytes | None = None, **fields: object) -> object:
        with django_capture_on_commit_callbacks(execute=True):
            product = make_product(image=image, **fields)
        return product

    return factory


@pytest.fixture(scope="session")
def trained_localiser(real_weights: None) -> object:
    """An item localiser (``visualsearch.ml.localiser.Localiser``) trained once per session on
    the real model: 96 generated scenes of real catalogue products of the training split, its
    thresholds picked on 16 scenes of validation products (about a minute on a quiet machine)."""
    from PIL import Image

    from tests.support import random_weights
    from tests.support.catalogue import catalogue_rows, photo_path
    from visualsearch.ml import embedder
    from visualsearch.ml.head import split_of
    from visualsearch.ml.localiser_training import TrainingOptions, train_localiser

    rows = [row for row in catalogue_rows(600) if photo_path(row).is_file()]
    splits = split_of([int(row["id"]) for row in rows])
    ids = {name: [int(r["id"]) for r, s in zip(rows, splits, strict=True) if s == name] for name in ("train", "val")}

    def image(pid: int) -> Image.Image:
        with Image.open(photo_path({"id": str(pid)})) as opened:
            return opened.convert("RGB")

    with random_weights.weights_mode(False):
        return train_localiser(
            ids["train"],
            ids["val"],
            image,
            lambda batch: embedder.embed_with_features(batch)[1],
            TrainingOptions(scenes=96, validation_scenes=16, seed=11, product_photos=32),
        ).localiser
