"""Without a broker (the embedded default: tasks run in-process), a reindex started from the
admin runs in the process's background thread (core.background): the request returns at
once, the dashboard shows live progress and the job finishes afterwards.

Transactional tests: the background thread has its own database connection and only sees
committed rows. The model is replaced by a stand-in that waits for the test's go-ahead, so
the test can look at the job while it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from core.background import background_wait_idle
from visualsearch.ml import embedder
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = "admin:visualsearch_reindex_dashboard"
START = "admin:visualsearch_reindex_start"


class GatedModel:
    """embed_batch stand-in: random unit vectors once ``go`` is set; counts its calls."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.go.set()
        self.calls = 0
        self.fail_with: BaseException | None = None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        assert self.go.wait(30), "the test never let the model run"
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        vectors = np.random.default_rng(self.calls).standard_normal((len(pixels), 2048)).astype("float32")
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def model(monkeypatch, settings) -> Iterator[GatedModel]:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default: no broker
    gated = GatedModel()
    monkeypatch.setattr(embedder, "embed_batch", gated)
    yield gated
    gated.go.set()
    assert background_wait_idle(60), "the background job did not finish"


def _wait_for_job(job: ReindexJob, timeout: float = 30) -> ReindexJob:
    assert background_wait_idle(timeout), "the background job did not finish"
    job.refresh_from_db()
    return job


def test_admin_reindex_returns_at_once_and_finishes_in_the_background(
    admin_client: Client, make_product, model: GatedModel
) -> None:
    products = [make_product() for _ in range(3)]  # embedded on save (in-process)
    model.go.clear()  # from now on the "model" waits for the test

    started = time.monotonic()
    response = admin_client.post(reverse(START), {"mode": "all"})
    elapsed = time.monotonic() - started

    assert response.status_code == 302 and response["Location"] == reverse(DASHBOARD)
    assert elapsed < 5, f"the request waited {elapsed:.1f} s for the reindex"
    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.RUNNING and job.total == 3
    page = admin_client.get(reverse(DASHBOARD)).content.decode()
    assert f"Started reindex #{job.pk}: 3 product(s) queued." in page
    assert f"Reindex #{job.pk} running" in page and "3 waiting" in page
    assert "data-autorefresh=" in page  # live progress

    model.go.set()
    job = _wait_for_job(job)

    assert job.state == ReindexJob.State.DONE
    assert (job.done_count, job.failed_count) == (3, 0)
    assert set(ProductEmbedding.objects.filter(product__in=products).values_list("status", flat=True)) == {
        EmbeddingStatus.DONE
    }
    page = admin_client.get(reverse(DASHBOARD)).content.decode()
    assert "Start a reindex" in page and "data-autorefresh=" not in page


def test_a_failure_in_the_background_is_recorded_on_the_job(
    admin_client: Client, make_product, model: GatedModel
) -> None:
    make_product(), make_product()
    model.fail_with = RuntimeError("the accelerator caught fire")

    response = admin_client.post(reverse(START), {"mode": "all"})
    assert response.status_code == 302
    job = _wait_for_job(ReindexJob.objects.get())

    assert job.state == ReindexJob.State.DONE
    assert (job.done_count, job.failed_count) == (0, 2)
    errors = set(ProductEmbedding.objects.filter(job=job).values_list("error", flat=True))
    assert len(errors) == 1 and "the accelerator caught fire" in errors.pop()


def test_retry_from_the_admin_also_runs_in_the_background(
    admin_client: Client, make_product, model: GatedModel
) -> None:
    make_product(), make_product()
    model.fail_with = RuntimeError("flaky")
    admin_client.post(reverse(START), {"mode": "all"})
    job = _wait_for_job(ReindexJob.objects.get())
    assert job.failed_count == 2

    model.fail_with = None
    model.go.clear()
    response = admin_client.post(reverse("admin:visualsearch_reindex_retry", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == ReindexJob.State.RUNNING  # returned before the computation
    model.go.set()
    job = _wait_for_job(job)
    assert (job.state, job.done_count, job.failed_count) == (ReindexJob.State.DONE, 2, 0)


def test_with_a_broker_the_admin_queues_tasks_and_starts_no_thread(
    admin_client: Client, make_product, model: GatedModel, monkeypatch, settings
) -> None:
    make_product()
    sent: list[tuple] = []
    from visualsearch import tasks

    monkeypatch.setattr(tasks.embed_products, "delay", lambda *args, **kwargs: sent.append((args, kwargs)))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls = model.calls

    admin_client.post(reverse(START), {"mode": "all"})

    job = ReindexJob.objects.get()
    assert len(sent) == 1 and sent[0][1]["job_id"] == job.pk
    assert background_wait_idle(5) and model.calls == calls  # nothing computed here
