"""Embeddings through a REAL Celery worker process: Redis broker, PostgreSQL test database.

The worker runs ``config.settings`` (as in production) against the pytest-django test
database and the machine's Redis; this process publishes to the same Redis. Each run takes
a Redis database number of its own (leased in Redis, never 0), so parallel test runs do
not consume each other's tasks. The worker is killed with its whole process group at the
end of the module, and its log is printed under any failing test.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection

from shop.importing.catalogue import catalogue_import
from shop.models import Product
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.mutations import mutated_images
from tests.support.products import PRODUCT_ATTRIBUTES
from tests.support.servers import Worker, database_url, leased_redis_db, publishing_to, start_worker
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READY_TIMEOUT = 120.0
EMBED_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def worker_redis_url() -> Iterator[str]:
    """A Redis database of this run's own on the machine's Redis, empty, emptied again after."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: needs PostgreSQL")
    base = os.environ.get("REDIS_URL", "")
    if not base:
        pytest.skip("REDIS_URL is not set: the real-worker tests need Redis")
    pinned = os.environ.get("WORKER_TEST_REDIS_DB")
    try:
        with leased_redis_db(base, int(pinned) if pinned else None) as url:
            yield url
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: None, worker_redis_url: str, tmp_path_factory: pytest.TempPathFactory):
    """One real worker (prefork, one process) for the module, on the test database."""
    worker = start_worker(
        database_url(connection.settings_dict), worker_redis_url, log_dir=tmp_path_factory.mktemp("worker")
    )
    try:
        worker.wait_ready(timeout=READY_TIMEOUT)
        yield worker
    finally:
        worker.stop()
        worker.kill()  # whatever is left of the process group (prefork children)


@pytest.fixture
def worker(celery_worker: Worker, worker_redis_url: str) -> Iterator[Worker]:
    """This process publishes its tasks to the real worker instead of running them in-process;
    the worker's log during the test is printed if the test fails."""
    start = len(celery_worker.log())
    with publishing_to(worker_redis_url):
        yield celery_worker
    print(f"--- worker log during the test ({celery_worker.log_path}) ---\n{celery_worker.log()[start:]}")


def wait_for(worker: Worker, what: str, predicate: Callable[[], bool], timeout: float = EMBED_TIMEOUT) -> None:
    """Poll until predicate() holds; fail with the worker's log if it does not in time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if not worker.alive():
            pytest.fail(f"the worker exited waiting for {what}:\n{worker.log()[-6000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; worker log:\n{worker.log()[-6000:]}")
        time.sleep(0.5)


def call_command_in_thread(*args: str) -> tuple[threading.Thread, io.StringIO, list[BaseException]]:
    """A management command running in a thread, so that a test can give up on it with the worker's log."""
    out, errors = io.StringIO(), []

    def run() -> None:
        try:
            call_command(*args, stdout=out, stderr=io.StringIO())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # the thread's own database connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out, errors


def embedding_status(product: Product) -> str | None:
    return ProductEmbedding.objects.filter(product=product).values_list("status", flat=True).first()


def test_a_saved_product_is_embedded_by_the_worker(worker: Worker, make_product) -> None:
    product = make_product()  # autocommit: the task is published on save

    wait_for(worker, "the embedding", lambda: embedding_status(product) != EmbeddingStatus.PENDING)

    row = ProductEmbedding.objects.get(product=product)
    assert row.status == EmbeddingStatus.DONE, row.error
    assert len(bytes(row.vector)) == 2048 * 4 and row.source_checksum
    assert "visualsearch.tasks.embed_products" in worker.log()


def test_reindex_all_through_the_worker(worker: Worker, tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "catalogue", catalogue_rows(60))
    count = catalogue_import(catalogue, announce_images=False).created
    assert count >= 50 and Product.objects.count() == count

    command, out, errors = call_command_in_thread("reindex", "--all")
    wait_for(worker, "the reindex command to finish", lambda: not command.is_alive(), timeout=180)

    assert errors == []
    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.DONE
    assert (job.total, job.done_count, job.failed_count) == (count, count, 0)
    assert ProductEmbedding.objects.filter(job=job, status=EmbeddingStatus.DONE).count() == count
    assert f"Reindex #{job.pk} done: {count} done, 0 failed of {count} in" in out.getvalue()
    assert "visualsearch.tasks.embed_products" in worker.log()


def test_mutated_images_never_wedge_the_worker_or_a_reindex(worker: Worker) -> None:
    """The fuzz test's worker share: 40 mutated files saved as products (bypassing the admin
    form's check) and reindexed by the real worker. Each ends done or failed with its reason:
    nothing stays pending, and the job finishes."""
    mutants = mutated_images(40, seed=21)
    products = []
    for label, data in mutants:
        product = Product(name=f"Fuzz {label}", **PRODUCT_ATTRIBUTES)
        product.image.save(f"fuzz-{label}.jpg", ContentFile(data), save=False)
        products.append(product)
    Product.objects.bulk_create(products)  # no signals: the reindex below queues them

    command, _out, errors = call_command_in_thread("reindex", "--missing")
    wait_for(worker, "the reindex over mutated images", lambda: not command.is_alive(), timeout=180)

    assert errors == []
    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.DONE and job.total == len(mutants)
    rows = ProductEmbedding.objects.filter(product__in=products)
    assert not rows.filter(status=EmbeddingStatus.PENDING).exists()
    failed = rows.filter(status=EmbeddingStatus.FAILED)
    assert job.done_count + job.failed_count == len(mutants) and job.failed_count == failed.count() > 0
    assert all(reason.startswith("Unreadable image") for reason in failed.values_list("error", flat=True))
    print(f"worker over {len(mutants)} mutated images: {job.done_count} done, {job.failed_count} failed")
