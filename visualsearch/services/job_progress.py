"""Closing reindex jobs: shared by the embedding computation (a batch may finish its job)
and the reindex services."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.services.changelog import index_changes_prune
from visualsearch.services.projection import projection_fit
from visualsearch.services.task_queue import task_queue

logger = logging.getLogger(__name__)


def reindex_job_check_finished(job_id: int) -> bool:
    """Close the job when none of its rows is pending; returns whether it is finished."""
    if ProductEmbedding.objects.filter(job_id=job_id, status=EmbeddingStatus.PENDING).exists():
        return False
    rows = ProductEmbedding.objects.filter(job_id=job_id)
    closed = ReindexJob.objects.filter(pk=job_id, state=ReindexJob.State.RUNNING).update(
        state=ReindexJob.State.DONE,
        finished_at=timezone.now(),
        done_count=rows.filter(status=EmbeddingStatus.DONE).count(),
        failed_count=rows.filter(status=EmbeddingStatus.FAILED).count(),
    )
    if closed:
        mode = ReindexJob.objects.filter(pk=job_id).values_list("mode", flat=True).first()
        transaction.on_commit(lambda: projection_update_after_reindex(refit=mode == ReindexJob.Mode.ALL))
        transaction.on_commit(index_changes_prune)
        transaction.on_commit(index_artifact_after_reindex)
    return True


def index_artifact_after_reindex() -> None:
    """A finished reindex: queue a new FAISS index artifact where the site serves one (after
    the projection update, which runs first). Never fails the reindex."""
    from visualsearch.services.artifacts import artifact_wanted

    if not artifact_wanted():
        return
    try:
        task_queue().build_index_artifact()
    except Exception:
        logger.exception("could not queue the index artifact build after the reindex")


def projection_update_after_reindex(*, refit: bool) -> None:
    """The index's PCA projection: fitted once enough embeddings exist, refitted after a full
    reindex (every web process then reloads its index once). Never fails the reindex."""
    try:
        projection_fit(refit=refit)
    except Exception:
        logger.exception("could not fit the PCA projection after the reindex")


def reindex_jobs_close_finished_meanwhile(rows: Iterable[ProductEmbedding]) -> None:
    """A product of a running reindex can be computed outside it (saved with a new image
    meanwhile); the job's own batches then skip it, so this computation may be the one that
    finishes the job."""
    job_ids = {row.job_id for row in rows if row.job_id is not None}
    if job_ids:
        for running in ReindexJob.objects.filter(pk__in=job_ids, state=ReindexJob.State.RUNNING).values_list(
            "pk", flat=True
        ):
            reindex_job_check_finished(running)
