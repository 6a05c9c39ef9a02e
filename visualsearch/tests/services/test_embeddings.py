"""Product embeddings with the real model and the real database: computing on save,
skipping unchanged images, failures with reasons, one task per imported batch.

Tasks run in-process (eager); ``django_capture_on_commit_callbacks(execute=True)`` plays
the commit that queues them. Reindex jobs are in test_reindex.py, the admin in
visualsearch/tests/admin/test_products.py.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from celery.signals import task_prerun
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from shop.models import Product
from tests.support.embeddings import BLUE, GREEN, RED, embedding, overwrite
from visualsearch.ml import embedder
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services import embeddings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("real_model")]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- Computing on save ---------------------------------------------------------------------


def _embedding_callbacks(callbacks: list) -> list:
    """The after-commit callbacks visual search queued (other apps, e.g. the stock alerts, listen
    to the same product changes and queue their own)."""
    return [c for c in callbacks if c.__module__.startswith("visualsearch.")]


def test_saving_a_product_embeds_it_after_commit(make_product, make_image, django_capture_on_commit_callbacks):
    data = make_image(RED)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product = make_product(image=data)
        assert embedding(product).status == EmbeddingStatus.PENDING  # marked now, computed after commit
    assert len(_embedding_callbacks(callbacks)) == 1
    row = embedding(product)
    assert row.status == EmbeddingStatus.DONE, row.error
    vector = row.as_array()
    assert vector.dtype == np.float32 and vector.shape == (embedder.EMBEDDING_DIM,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert row.model_version == embedder.MODEL_VERSION
    assert row.source_checksum == hashlib.sha256(data).hexdigest()
    assert row.error == "" and row.computed_at is not None


def test_saving_again_with_the_same_image_does_not_recompute(
    embedded_product, make_image, django_capture_on_commit_callbacks
):
    data = make_image(RED)
    product = embedded_product(image=data)
    before = embedding(product)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product.name = "Renamed"
        product.save()
    assert _embedding_callbacks(callbacks) == []  # same image file: nothing queued
    # The same bytes uploaded again under a new name: queued, but recognised by checksum.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product.image.save("same-bytes.jpg", ContentFile(data), save=True)
    assert len(_embedding_callbacks(callbacks)) == 1
    after = embedding(product)
    assert after.status == EmbeddingStatus.DONE
    assert after.computed_at == before.computed_at
    assert bytes(after.vector) == bytes(before.vector)
    assert embeddings.embeddings_compute([product.pk]) == embeddings.ComputeResult(unchanged=1)


def test_changing_the_image_embeds_it_again(embedded_product, make_image, django_capture_on_commit_callbacks):
    product = embedded_product(image=make_image(RED))
    before = embedding(product)
    new_image = make_image(BLUE, size=(80, 60))
    with django_capture_on_commit_callbacks(execute=True):
        product.image.save("blue.jpg", ContentFile(new_image), save=True)
    after = embedding(product)
    assert after.status == EmbeddingStatus.DONE
    assert after.source_checksum == hashlib.sha256(new_image).hexdigest() != before.source_checksum
    assert after.computed_at > before.computed_at
    assert cosine(after.as_array(), before.as_array()) < 0.999


# --- Failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda good: b"this is not a jpeg at all", "not an image we can read"),
        (lambda good: good[: len(good) * 9 // 10], "truncated or corrupt"),
    ],
    ids=["garbage", "truncated"],
)
def test_an_unreadable_image_fails_with_its_reason_and_the_batch_goes_on(
    make_product, make_image, corrupt: Callable[[bytes], bytes], reason: str
):
    from visualsearch.tasks import embed_products

    good = make_image(GREEN)
    first, broken, last = make_product(image=make_image(RED)), make_product(image=good), make_product()
    overwrite(broken.image.name, corrupt(good))

    result = embed_products.delay([first.pk, broken.pk, last.pk]).get()

    assert result == {"done": 2, "unchanged": 0, "failed": 1, "images_done": 0, "images_failed": 0}
    row = embedding(broken)
    assert row.status == EmbeddingStatus.FAILED
    assert reason in row.error and broken.image.name in row.error
    assert row.vector is None
    assert {embedding(first).status, embedding(last).status} == {EmbeddingStatus.DONE}


def test_a_missing_file_fails_with_its_reason_and_keeps_the_old_vector(embedded_product):
    product = embedded_product()
    old_vector = bytes(embedding(product).vector)
    default_storage.delete(product.image.name)

    result = embeddings.embeddings_compute([product.pk], force=True)

    assert result == embeddings.ComputeResult(failed=1)
    row = embedding(product)
    assert row.status == EmbeddingStatus.FAILED
    assert row.error == f"The image file {product.image.name} is missing from storage."
    assert bytes(row.vector) == old_vector  # still serves searches


# --- The catalogue import ------------------------------------------------------------------


@pytest.fixture
def embed_task_calls() -> Iterator[list[int]]:
    """The batch size of every embed_products task that runs (eager: task_prerun fires)."""
    calls: list[int] = []

    def count(sender=None, args=(), **kwargs: object) -> None:
        if sender is not None and sender.name == "visualsearch.tasks.embed_products":
            calls.append(len(args[0]))

    task_prerun.connect(count, weak=False)
    yield calls
    task_prerun.disconnect(count)


def test_import_catalogue_queues_one_task_per_batch(
    db: None, small_catalogue: Path, embed_task_calls: list[int], django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "import_catalogue", str(small_catalogue), batch_size=20, stdout=io.StringIO(), stderr=io.StringIO()
        )
    imported = Product.objects.count()
    assert imported > 30  # rows whose image is missing from the catalogue are skipped
    assert len(embed_task_calls) == 2 and sum(embed_task_calls) == imported  # one task per batch of 20 rows
    assert ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE).count() == imported
