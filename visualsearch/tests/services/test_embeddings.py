"""Product embeddings end to end with the real model and the real database: computing on
save, skipping unchanged images, failures with reasons, reindex jobs and their command,
the admin's reindex dashboard, status column, filter and action.

Tasks run in-process (eager); ``django_capture_on_commit_callbacks(execute=True)`` plays
the commit that queues them.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from celery.signals import task_prerun
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from shop.models import Product
from tests.support import random_weights
from visualsearch.index import get_index
from visualsearch.ml import embedder
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.services import embeddings, reindex

pytestmark = pytest.mark.slow

RED, BLUE, GREEN = (200, 30, 30), (30, 60, 200), (40, 160, 60)
DASHBOARD = "admin:visualsearch_reindex_dashboard"


@pytest.fixture(scope="module", autouse=True)
def real_model(real_weights: None) -> Iterator[None]:
    """The real ResNet50, loaded once for the module."""
    with random_weights.weights_mode(False):
        embedder.warm_up()
        yield


@pytest.fixture
def embedded_product(make_product, django_capture_on_commit_callbacks) -> Callable[..., Product]:
    """A product saved and committed: its embedding task has run."""

    def factory(image: bytes | None = None, **fields: object) -> Product:
        with django_capture_on_commit_callbacks(execute=True):
            product = make_product(image=image, **fields)
        return product

    return factory


def embedding(product: Product) -> ProductEmbedding:
    return ProductEmbedding.objects.get(product=product)


def overwrite(name: str, data: bytes) -> None:
    """Replace a stored file's bytes through the storage API (same name)."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(data)) == name


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_reindex(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("reindex", *args, stdout=out, stderr=err)
    return out.getvalue()


# --- Computing on save ---------------------------------------------------------------------


def test_saving_a_product_embeds_it_after_commit(make_product, make_image, django_capture_on_commit_callbacks):
    data = make_image(RED)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product = make_product(image=data)
        assert embedding(product).status == EmbeddingStatus.PENDING  # marked now, computed after commit
    assert len(callbacks) == 1
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
    assert callbacks == []  # same image file: nothing queued
    # The same bytes uploaded again under a new name: queued, but recognised by checksum.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        product.image.save("same-bytes.jpg", ContentFile(data), save=True)
    assert len(callbacks) == 1
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

    assert result == {"done": 2, "unchanged": 0, "failed": 1}
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


# --- Reindex jobs --------------------------------------------------------------------------


def test_reindex_missing_covers_only_missing_failed_and_stale(embedded_product, make_product, make_image):
    current = embedded_product(image=make_image(RED))
    stale = embedded_product(image=make_image(BLUE))
    ProductEmbedding.objects.filter(product=stale).update(model_version="resnet50-older")
    never = make_product(image=make_image(GREEN))
    ProductEmbedding.objects.filter(product=never).delete()
    broken = embedded_product()
    overwrite(broken.image.name, b"garbage")
    embeddings.embeddings_compute([broken.pk], force=True)
    assert embedding(broken).status == EmbeddingStatus.FAILED

    output = run_reindex("--missing")

    job = ReindexJob.objects.get()
    assert set(job.embeddings.values_list("product_id", flat=True)) == {stale.pk, never.pk, broken.pk}
    assert embedding(current).job_id is None
    assert (job.state, job.total, job.done_count, job.failed_count) == (ReindexJob.State.DONE, 3, 2, 1)
    assert embedding(stale).model_version == embedder.MODEL_VERSION
    assert embedding(never).status == EmbeddingStatus.DONE
    assert f"Reindex #{job.pk} done: 2 done, 1 failed of 3 in" in output


def test_reindex_all_command_counts_add_up_and_lists_failures(embedded_product, make_image):
    products = [embedded_product(image=make_image(colour)) for colour in (RED, BLUE, GREEN)]
    missing = products[1]
    default_storage.delete(missing.image.name)

    output = run_reindex("--all")

    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.DONE and job.finished_at is not None
    assert job.total == job.done_count + job.failed_count == 3
    assert (job.done_count, job.failed_count) == (2, 1)
    assert f"Started reindex #{job.pk} (everything): 3 product(s)." in output
    assert f"Reindex #{job.pk} done: 2 done, 1 failed of 3 in " in output and " images/s)." in output
    assert "Failures (1 of 1 shown):" in output
    assert f"product {missing.pk} ({missing.name}): The image file {missing.image.name} is missing" in output


def test_reindex_with_nothing_to_do_creates_no_job(embedded_product):
    embedded_product()
    output = run_reindex("--missing")
    assert not ReindexJob.objects.exists()
    assert "Nothing to do: every active product already has a current embedding." in output


def test_reindex_limit_takes_the_first_products(make_product):
    products = [make_product() for _ in range(3)]
    run_reindex("--missing", "--limit", "2")
    job = ReindexJob.objects.get()
    assert job.total == job.done_count == 2
    assert embedding(products[2]).status == EmbeddingStatus.PENDING


def test_a_second_start_is_refused_while_one_runs(make_product):
    make_product()
    running = reindex.reindex_job_start(ReindexJob.Mode.ALL, dispatch=False)
    assert running.state == ReindexJob.State.RUNNING and running.total == 1

    with pytest.raises(reindex.ReindexAlreadyRunning) as refused:
        reindex.reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)
    assert refused.value.job == running
    with pytest.raises(CommandError, match=rf"Reindex #{running.pk} \(everything\) is already running"):
        run_reindex("--all")
    assert ReindexJob.objects.count() == 1


def test_resume_finishes_the_running_job(make_product):
    products = [make_product() for _ in range(2)]
    job = reindex.reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)  # as if the worker died

    output = run_reindex("--resume")

    job.refresh_from_db()
    assert job.state == ReindexJob.State.DONE and job.done_count == 2
    assert f"Resuming reindex #{job.pk}: 2 product(s) waiting." in output
    assert {embedding(p).status for p in products} == {EmbeddingStatus.DONE}
    with pytest.raises(CommandError, match="No reindex is running"):
        run_reindex("--resume")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_make_exactly_one_job():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    Product.objects.bulk_create(  # no save signals: nothing computed
        [
            Product(
                name=f"P{i}", gender="Men", master_category="A", sub_category="B", article_type="C", image=f"x{i}.jpg"
            )
            for i in range(5)
        ]
    )
    barrier = threading.Barrier(2)
    outcomes: list[tuple[str, int | None]] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(("started", reindex.reindex_job_start(ReindexJob.Mode.ALL, dispatch=False).pk))
        except reindex.ReindexAlreadyRunning as refused:
            outcomes.append(("refused", refused.job.pk if refused.job else None))
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    job = ReindexJob.objects.get()
    assert sorted(outcomes) == [("refused", job.pk), ("started", job.pk)]  # the refusal names the job
    assert job.total == 5 and job.embeddings.filter(status=EmbeddingStatus.PENDING).count() == 5


def test_old_vectors_keep_serving_during_a_full_reindex(embedded_product, make_image):
    red, blue = embedded_product(image=make_image(RED)), embedded_product(image=make_image(BLUE))
    old_vector = bytes(embedding(red).vector)

    job = reindex.reindex_job_start(ReindexJob.Mode.ALL, dispatch=False)

    row = embedding(red)
    assert (row.status, row.job_id) == (EmbeddingStatus.PENDING, job.pk)
    assert bytes(row.vector) == old_vector
    index = get_index()
    assert red.pk in index and blue.pk in index
    assert [hit.product_id for hit in index.similar_to_product(blue.pk, k=5)] == [red.pk]

    embeddings.embeddings_compute(reindex.reindex_job_pending_ids(job), job_id=job.pk, force=True)
    job.refresh_from_db()
    assert job.state == ReindexJob.State.DONE and job.done_count == 2
    assert red.pk in index and embedding(red).status == EmbeddingStatus.DONE


def test_a_job_closes_when_its_last_product_is_computed_outside_it(
    embedded_product, make_image, django_capture_on_commit_callbacks
):
    red, blue = embedded_product(image=make_image(RED)), embedded_product(image=make_image(BLUE))
    job = reindex.reindex_job_start(ReindexJob.Mode.ALL, dispatch=False)
    embeddings.embeddings_compute([red.pk], job_id=job.pk, force=True)
    # blue gets a new image meanwhile: the save queues it outside the job, and that computes it.
    with django_capture_on_commit_callbacks(execute=True):
        blue.image.save("green.jpg", ContentFile(make_image(GREEN)), save=True)
    job.refresh_from_db()
    assert job.state == ReindexJob.State.DONE
    assert (job.done_count, job.failed_count) == (2, 0)


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


def test_import_catalog_queues_one_task_per_batch(
    db: None, small_catalogue: Path, embed_task_calls: list[int], django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_catalog", str(small_catalogue), batch_size=20, stdout=io.StringIO(), stderr=io.StringIO())
    imported = Product.objects.count()
    assert imported > 30  # rows whose image is missing from the catalogue are skipped
    assert len(embed_task_calls) == 2 and sum(embed_task_calls) == imported  # one task per batch of 20 rows
    assert ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE).count() == imported


# --- Admin ---------------------------------------------------------------------------------


def test_dashboard_shows_live_counts_to_staff(admin_client: Client, embedded_product, make_product):
    embedded_product(), embedded_product()
    broken = make_product()
    default_storage.delete(broken.image.name)
    embeddings.embeddings_compute([broken.pk])
    make_product()  # pending: never committed

    response = admin_client.get(reverse(DASHBOARD))

    assert response.status_code == 200
    counts = response.context["counts"]
    assert (counts.products, counts.done, counts.failed, counts.pending) == (4, 2, 1, 1)
    content = response.content.decode()
    assert 'data-count="done">2<' in content and 'data-count="failed">1<' in content
    assert "Start a reindex" in content and "Reindex missing (2)" in content

    job = reindex.reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)
    content = admin_client.get(reverse(DASHBOARD)).content.decode()
    assert f"Reindex #{job.pk} running (missing only)" in content
    assert 'data-count="pending">2<' in content and "0 done" in content and "2 waiting" in content


def test_dashboard_refuses_non_staff(client: Client, django_user_model):
    url = reverse(DASHBOARD)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    client.force_login(django_user_model.objects.create_user("shopper", password="x"))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_start_from_the_dashboard_then_already_running(admin_client: Client, make_product):
    make_product(), make_product()
    start = reverse("admin:visualsearch_reindex_start")

    response = admin_client.post(start, {"mode": "all"}, follow=True)

    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.RUNNING and job.requested_by == get_user_model().objects.get()
    assert f"Started reindex #{job.pk}: 2 product(s) queued." in response.content.decode()
    response = admin_client.post(start, {"mode": "missing"}, follow=True)
    assert f"Reindex #{job.pk} is already running" in response.content.decode()
    assert ReindexJob.objects.count() == 1


def test_product_changelist_shows_and_filters_by_embedding_status(admin_client: Client, embedded_product, make_product):
    done = embedded_product()
    failed = make_product()
    default_storage.delete(failed.image.name)
    embeddings.embeddings_compute([failed.pk])
    none = make_product()
    ProductEmbedding.objects.filter(product=none).delete()
    url = reverse("admin:shop_product_changelist")

    content = admin_client.get(url).content.decode()
    assert "column-embedding_status_tag" in content
    assert ">Done</span>" in content and ">Failed</span>" in content and ">Not computed</span>" in content

    for value, expected in (("done", done), ("failed", failed), ("none", none)):
        response = admin_client.get(url, {"embedding": value})
        assert [p.pk for p in response.context["cl"].result_list] == [expected.pk], value


def test_compute_embeddings_action_queues_and_computes(admin_client: Client, make_product):
    products = [make_product(), make_product()]  # never committed: pending
    response = admin_client.post(
        reverse("admin:shop_product_changelist"),
        {"action": "compute_embeddings", "_selected_action": [p.pk for p in products]},
        follow=True,
    )
    assert "Queued embeddings for 2 product(s)" in response.content.decode()
    assert {embedding(p).status for p in products} == {EmbeddingStatus.DONE}
