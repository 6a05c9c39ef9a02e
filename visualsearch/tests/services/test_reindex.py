"""Reindex jobs and their command: which products a mode covers, the counts, one job at a
time (also under concurrent starts), resuming, old vectors serving meanwhile.

Tasks run in-process (eager). The tests that compute embeddings use the real model (slow);
the job bookkeeping alone needs none.
"""

from __future__ import annotations

import io
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from shop.models import Product
from tests.support.embeddings import BLUE, GREEN, RED, embedding, overwrite
from visualsearch.index import get_index
from visualsearch.ml import embedder
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.services import embeddings, reindex


def run_reindex(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("reindex", *args, stdout=out, stderr=err)
    return out.getvalue()


# --- Reindex jobs --------------------------------------------------------------------------


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_reindex_with_nothing_to_do_creates_no_job(embedded_product):
    embedded_product()
    output = run_reindex("--missing")
    assert not ReindexJob.objects.exists()
    assert "Nothing to do: every active product already has a current embedding." in output


@pytest.mark.slow
def test_reindex_limit_takes_the_first_products(real_model, make_product):
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


@pytest.mark.slow
def test_resume_finishes_the_running_job(real_model, make_product):
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
    assert connection.vendor == "postgresql", "concurrent transactions need PostgreSQL: set DATABASE_URL"
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_reindex_stall_hint_names_the_readme_workers() -> None:
    from pathlib import Path

    import visualsearch.management.commands.reindex as reindex_command

    source = Path(reindex_command.__file__).read_text()
    assert "celery,query" not in source
    assert "celery -A config worker -Q celery --concurrency 1" in source
    assert "celery -A config worker -Q query --pool solo" in source
