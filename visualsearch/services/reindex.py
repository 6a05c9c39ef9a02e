"""Reindex jobs: start, resume, retry, cancel. A job's rows are its ProductEmbedding rows;
the embedding tasks compute them in batches."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.background import background_submit
from shop.models import Product, ProductImage
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.selectors import reindex_job_running
from visualsearch.services.embeddings import embeddings_enqueue, embeddings_mark_pending, embeddings_record_failure
from visualsearch.services.job_progress import reindex_job_check_finished


class NothingToReindex(Exception):
    """Every product the reindex would cover is already current: no job is created."""


class ReindexAlreadyRunning(Exception):
    def __init__(self, job: ReindexJob | None) -> None:
        self.job = job
        super().__init__(
            f"Reindex #{job.pk} is already running; wait for it to finish."
            if job
            else "A reindex is already running; wait for it to finish."
        )


def reindex_targets(mode: str) -> QuerySet[Product]:
    """Active products a reindex of this mode covers."""
    products = Product.objects.filter(is_active=True)
    if mode == ReindexJob.Mode.MISSING:
        current = Q(embedding__status=EmbeddingStatus.DONE, embedding__model_version=MODEL_VERSION)
        # …or a more image without a current embedding (new, failed, or of another model).
        stale_images = ProductImage.objects.filter(product=OuterRef("pk")).exclude(
            embedding__status=EmbeddingStatus.DONE, embedding__model_version=MODEL_VERSION
        )
        products = products.filter(~current | Exists(stale_images))
    return products.order_by("pk")


def _job_dispatch(ids: list[int], job_id: int, *, force: bool, background: bool) -> None:
    """Queue a job's batches. With ``background`` and no broker (tasks run in-process), the
    batches run in this process's background thread instead of the caller's: the admin's
    request returns at once and its page shows the job's progress, as with a broker."""
    if background and settings.CELERY_TASK_ALWAYS_EAGER:
        background_submit(
            embeddings_enqueue,
            ids,
            job_id=job_id,
            force=force,
            name=f"reindex #{job_id}",
            on_error=partial(_job_failed_in_background, job_id),
        )
    else:
        embeddings_enqueue(ids, job_id=job_id, force=force)


def _job_failed_in_background(job_id: int, exc: BaseException) -> None:
    """The background thread's batches failed: what the job still has pending fails with the
    reason, so the job finishes instead of waiting for ever."""
    ids = list(
        ProductEmbedding.objects.filter(job_id=job_id, status=EmbeddingStatus.PENDING).values_list(
            "product_id", flat=True
        )
    )
    if ids:
        embeddings_record_failure(ids, f"The embedding computation failed: {type(exc).__name__}: {exc}")
    reindex_job_check_finished(job_id)


def nothing_to_reindex_message(mode: str) -> str:
    if mode == ReindexJob.Mode.MISSING:
        return "Nothing to do: every active product already has a current embedding."
    return "Nothing to do: there are no active products."


def reindex_targets_exist(mode: str) -> bool:
    """Whether a reindex of this mode would have anything to do (checked without the model)."""
    return reindex_targets(mode).exists()


def reindex_job_start(
    mode: str, *, user=None, limit: int | None = None, dispatch: bool = True, background: bool = False
) -> ReindexJob:
    """Start a reindex as batched tasks. Refuses while one runs (ReindexAlreadyRunning) and
    creates no job when there is nothing to do (NothingToReindex). ``background``: without a
    broker, compute in this process's background thread rather than before returning."""
    if mode not in ReindexJob.Mode.values:
        raise ValueError(f"unknown reindex mode {mode!r}")
    with transaction.atomic():
        try:
            with transaction.atomic():
                job = ReindexJob.objects.create(mode=mode, requested_by=user, started_at=timezone.now())
        except IntegrityError:
            raise ReindexAlreadyRunning(reindex_job_running()) from None
        ids = list(reindex_targets(mode).values_list("pk", flat=True)[: limit or None])
        if not ids:
            transaction.set_rollback(True)
            raise NothingToReindex(nothing_to_reindex_message(mode))
        embeddings_mark_pending(ids, job=job)
        job.total = len(ids)
        job.save(update_fields=["total"])
        if dispatch:
            transaction.on_commit(
                lambda: _job_dispatch(ids, job.pk, force=mode == ReindexJob.Mode.ALL, background=background)
            )
    job.refresh_from_db()
    return job


def reindex_job_pending_ids(job: ReindexJob) -> list[int]:
    return list(
        ProductEmbedding.objects.filter(job=job, status=EmbeddingStatus.PENDING)
        .order_by("product_id")
        .values_list("product_id", flat=True)
    )


def reindex_job_resume(job: ReindexJob, *, background: bool = False) -> int:
    """Queue again whatever a running job still has pending (after a worker was killed)."""
    if job.state != ReindexJob.State.RUNNING:
        return 0
    ids = reindex_job_pending_ids(job)
    if ids:
        _job_dispatch(ids, job.pk, force=job.mode == ReindexJob.Mode.ALL, background=background)
    else:
        reindex_job_check_finished(job.pk)
    return len(ids)


def reindex_jobs_resume_running() -> int:
    """Called when a worker starts: a job whose worker died mid-batch carries on."""
    return sum(reindex_job_resume(job) for job in ReindexJob.objects.filter(state=ReindexJob.State.RUNNING))


def reindex_job_retry_failed(job: ReindexJob, *, background: bool = False) -> int:
    """Queue the failed products of a finished job again, as a running job."""
    with transaction.atomic():
        ids = list(
            ProductEmbedding.objects.filter(job=job, status=EmbeddingStatus.FAILED).values_list("product_id", flat=True)
        )
        if not ids:
            return 0
        try:
            with transaction.atomic():
                ReindexJob.objects.filter(pk=job.pk).update(state=ReindexJob.State.RUNNING, finished_at=None)
        except IntegrityError:
            raise ReindexAlreadyRunning(reindex_job_running()) from None
        embeddings_mark_pending(ids, job=job)
        transaction.on_commit(lambda: _job_dispatch(ids, job.pk, force=True, background=background))
    return len(ids)


def reindex_job_cancel(job: ReindexJob) -> None:
    """Stop a running job: its pending rows are released (their old vectors stay)."""
    with transaction.atomic():
        updated = ReindexJob.objects.filter(pk=job.pk, state=ReindexJob.State.RUNNING).update(
            state=ReindexJob.State.CANCELLED, finished_at=timezone.now()
        )
        if updated:
            rows = ProductEmbedding.objects.filter(job=job)
            rows.filter(status=EmbeddingStatus.PENDING).update(
                status=EmbeddingStatus.FAILED, error=f"Cancelled with reindex #{job.pk}."
            )
            ReindexJob.objects.filter(pk=job.pk).update(
                done_count=rows.filter(status=EmbeddingStatus.DONE).count(),
                failed_count=rows.filter(status=EmbeddingStatus.FAILED).count(),
            )
