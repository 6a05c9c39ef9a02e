"""visualsearch.services.task_queue: the services send their work through the task queue
installed at start-up (the Celery tasks), never by importing the tasks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from visualsearch import tasks
from visualsearch.services import embeddings, job_progress, task_queue


class Recorded:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def embed_products(self, product_ids: Sequence[int], *, job_id: int | None, force: bool) -> None:
        self.sent.append(("embed_products", (list(product_ids), job_id, force)))

    def build_index_artifact(self) -> None:
        self.sent.append(("build_index_artifact", None))

    def train_head(self, job_id: int) -> None:
        self.sent.append(("train_head", job_id))


def test_the_app_installs_the_celery_tasks() -> None:
    assert isinstance(task_queue.task_queue(), tasks.CeleryTaskQueue)


def test_without_a_task_queue_the_error_says_who_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_queue, "_installed", None)
    with pytest.raises(RuntimeError, match=r"AppConfig\.ready"):
        task_queue.task_queue()


@pytest.mark.django_db
def test_the_embeddings_go_in_batches_to_the_installed_queue(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    settings.VISUALSEARCH_TASK_BATCH = 2
    queue = Recorded()
    monkeypatch.setattr(task_queue, "_installed", queue)
    assert embeddings.embeddings_enqueue([1, 2, 3], job_id=7, force=True) is True
    assert queue.sent == [("embed_products", ([1, 2], 7, True)), ("embed_products", ([3], 7, True))]


def test_the_celery_queue_sends_the_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, tuple, dict]] = []
    monkeypatch.setattr(tasks.embed_products, "delay", lambda *a, **k: sent.append(("embed", a, k)))
    monkeypatch.setattr(tasks.build_index_artifact, "delay", lambda *a, **k: sent.append(("artifact", a, k)))
    monkeypatch.setattr(tasks.train_similarity_head, "delay", lambda *a, **k: sent.append(("train", a, k)))
    queue = tasks.CeleryTaskQueue()
    queue.embed_products((4, 5), job_id=None, force=False)
    queue.build_index_artifact()
    queue.train_head(9)
    assert sent == [
        ("embed", ([4, 5],), {"job_id": None, "force": False}),
        ("artifact", (), {}),
        ("train", (9,), {}),
    ]


def test_a_failed_artifact_send_never_fails_the_reindex(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    class Down(Recorded):
        def build_index_artifact(self) -> None:
            raise ConnectionError("the broker is down")

    monkeypatch.setattr(task_queue, "_installed", Down())
    monkeypatch.setattr("visualsearch.services.artifacts.artifact_wanted", lambda: True)
    job_progress.index_artifact_after_reindex()
    assert "could not queue the index artifact build" in caplog.text
