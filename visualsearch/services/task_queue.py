"""How the services send work to the task queue without importing the tasks.

The tasks import the services (they are thin wrappers around them); the services never
import the tasks. What a service sends goes through the task queue installed at start-up
(``VisualSearchConfig.ready`` installs ``visualsearch.tasks.CeleryTaskQueue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class TaskQueue(Protocol):
    def embed_products(self, product_ids: Sequence[int], *, job_id: int | None, force: bool) -> None:
        """Queue the embedding computation of one batch of products."""

    def build_index_artifact(self) -> None:
        """Queue a build of the FAISS index artifact."""

    def train_head(self, job_id: int) -> None:
        """Queue a retrain job (``services/head_jobs.py``)."""


_installed: TaskQueue | None = None


def task_queue_install(queue: TaskQueue) -> None:
    """Make ``queue`` the one the services send to (at start-up)."""
    global _installed
    _installed = queue


def task_queue() -> TaskQueue:
    """The task queue installed at start-up (RuntimeError before the app is ready)."""
    if _installed is None:
        raise RuntimeError("No task queue installed: visualsearch's AppConfig.ready installs one.")
    return _installed
