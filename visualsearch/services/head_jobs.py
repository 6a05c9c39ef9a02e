"""Retrain jobs ("Retrain similarity" in the admin): start, run, cancel.

The request that starts one only creates the job and hands it on: to the worker through the
task queue, or, in the embedded default (no broker, tasks run in-process), to this process's
background thread (``core.background``), as reindex does. The training
(``head_training.head_train``) writes its stage and share done to the job as it goes, so the
heads page shows progress and time left; Cancel sets a flag the next progress report reads,
and the training stops there without storing anything.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.background import background_submit
from visualsearch.models import HeadTrainingJob
from visualsearch.services.task_queue import task_queue

logger = logging.getLogger(__name__)

# Progress is written at most this often (seconds): an epoch can take a fraction of a second.
WRITE_EVERY = 1.0


class TrainingAlreadyRunning(Exception):
    def __init__(self, job: HeadTrainingJob | None) -> None:
        self.job = job
        super().__init__(
            f"Retrain #{job.pk} is already running; wait for it to finish or cancel it."
            if job
            else "A retrain is already running."
        )


def head_training_job_running() -> HeadTrainingJob | None:
    return HeadTrainingJob.objects.filter(state=HeadTrainingJob.State.RUNNING).first()


def head_training_job_start(*, user=None, background: bool = True) -> HeadTrainingJob:
    """Create a running job and send it to the worker (or, without a broker and with
    ``background``, to this process's background thread). Refuses while one runs."""
    try:
        with transaction.atomic():
            job = HeadTrainingJob.objects.create(
                requested_by=user, started_at=timezone.now(), stage="waiting for the worker"
            )
            transaction.on_commit(lambda: _dispatch(job.pk, background=background))
    except IntegrityError:
        raise TrainingAlreadyRunning(head_training_job_running()) from None
    return job


def _dispatch(job_id: int, *, background: bool) -> None:
    if background and settings.CELERY_TASK_ALWAYS_EAGER:
        background_submit(
            head_training_job_run,
            job_id,
            name=f"retrain #{job_id}",
            on_error=lambda exc: head_training_job_fail(job_id, exc),
        )
        return
    try:
        task_queue().train_head(job_id)
    except Exception as exc:  # the broker is down: the job fails with the reason, never waits for ever
        logger.exception("could not queue retrain #%s", job_id)
        head_training_job_fail(job_id, exc, "The task queue is unavailable, nothing was started")


def head_training_job_fail(job_id: int, exc: BaseException, what: str = "The training failed") -> None:
    HeadTrainingJob.objects.filter(pk=job_id, state=HeadTrainingJob.State.RUNNING).update(
        state=HeadTrainingJob.State.FAILED,
        finished_at=timezone.now(),
        reason=f"{what}: {type(exc).__name__}: {exc}",
    )


def head_training_job_cancel(job: HeadTrainingJob) -> bool:
    """Ask a running job to stop (at its next progress report); asked a second time, close it
    at once: its process died (a restart, a killed worker) and nothing else would ever close
    it, while it keeps every other retrain out. False when it is not running."""
    running = HeadTrainingJob.objects.filter(pk=job.pk, state=HeadTrainingJob.State.RUNNING)
    if running.filter(cancel_requested=True).update(
        state=HeadTrainingJob.State.CANCELLED,
        finished_at=timezone.now(),
        reason="Stopped by staff after it stopped reporting progress: nothing was stored.",
    ):
        return True
    return bool(running.update(cancel_requested=True))


class _JobReporter:
    """The training's progress callbacks for one job: the stage and share done, written to
    the job at most every WRITE_EVERY seconds; raises TrainingCancelled once Cancel was pressed."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stage = "starting"
        self.fraction = 0.0
        self.written = 0.0

    def message(self, text: str) -> None:
        self.stage = text[:255]
        self._write()

    def share(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(fraction, 1.0))
        self._write()

    def _write(self) -> None:
        from visualsearch.services.head_training import TrainingCancelled

        now = time.monotonic()
        if now - self.written < WRITE_EVERY:
            return
        self.written = now
        HeadTrainingJob.objects.filter(pk=self.job_id).update(stage=self.stage, progress=self.fraction)
        if (
            HeadTrainingJob.objects.filter(pk=self.job_id)
            .exclude(state=HeadTrainingJob.State.RUNNING, cancel_requested=False)
            .exists()
        ):
            raise TrainingCancelled()


def head_training_job_run(job_id: int) -> HeadTrainingJob:
    """Run a job's training (the worker's task, or the background thread) and record its
    outcome: the head stored (activated or not, and why), the head reused, or the failure."""
    from visualsearch.services import head_training

    job = HeadTrainingJob.objects.get(pk=job_id)
    if job.state != HeadTrainingJob.State.RUNNING:
        return job
    if job.cancel_requested:
        return _close(job_id, HeadTrainingJob.State.CANCELLED, reason="Cancelled before it started.")
    reporter = _JobReporter(job_id)
    HeadTrainingJob.objects.filter(pk=job_id).update(started_at=timezone.now(), stage="loading the products")
    try:
        result = head_training.head_train(on_progress=reporter.message, on_fraction=reporter.share)
    except head_training.TrainingCancelled:
        return _close(job_id, HeadTrainingJob.State.CANCELLED, reason="Cancelled: nothing was stored.")
    except head_training.NotEnoughLabels as exc:
        return _close(job_id, HeadTrainingJob.State.FAILED, reason=str(exc))
    outcome = (
        HeadTrainingJob.Outcome.REUSED
        if result.reused
        else HeadTrainingJob.Outcome.ACTIVATED
        if result.activated
        else HeadTrainingJob.Outcome.REFUSED
    )
    logger.info("retrain #%s: head v%s, %s: %s", job_id, result.head.pk, outcome, result.reason)
    return _close(
        job_id,
        HeadTrainingJob.State.DONE,
        outcome=outcome,
        head_id=result.head.pk,
        reason=result.reason,
        twins=result.twins or {},
    )


def _close(job_id: int, state: str, **fields: object) -> HeadTrainingJob:
    if state == HeadTrainingJob.State.DONE:
        fields["progress"] = 1.0
    HeadTrainingJob.objects.filter(pk=job_id, state=HeadTrainingJob.State.RUNNING).update(
        state=state, finished_at=timezone.now(), **fields
    )
    return HeadTrainingJob.objects.get(pk=job_id)
