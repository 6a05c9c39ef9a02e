"""Writes of visual search: scheduling and computing embeddings, reindex jobs, the index
change log. Views, tasks, commands and the catalogue import all call these."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from shop.models import Product
from visualsearch.embedder import MODEL_VERSION
from visualsearch.imaging import ImageRejected, bytes_to_model_input
from visualsearch.models import EmbeddingStatus, IndexChange, ProductEmbedding, ReindexJob

logger = logging.getLogger(__name__)

NOT_QUEUED = "Not queued: the task queue is unavailable"


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


@dataclass
class ComputeResult:
    done: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: ComputeResult) -> None:
        self.done += other.done
        self.unchanged += other.unchanged
        self.failed += other.failed


def chunked(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- The index change log -------------------------------------------------------------


def index_changes_record(product_ids: Iterable[int]) -> None:
    """Tell every web process's index that these products changed (read within seconds)."""
    IndexChange.objects.bulk_create([IndexChange(product_id=pid) for pid in set(product_ids)])


def index_changes_prune() -> int:
    """Drop change-log entries older than VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS. A web
    process that has not looked at the log for half that long reloads its whole index."""
    hours = settings.VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS
    deleted, _ = IndexChange.objects.filter(created__lt=timezone.now() - timedelta(hours=hours)).delete()
    return deleted


# --- Scheduling -----------------------------------------------------------------------


def embeddings_mark_pending(products: QuerySet[Product] | Sequence[int], *, job: ReindexJob | None = None) -> int:
    """Create missing embedding rows and mark the rows pending (old vectors stay and keep serving)."""
    ids = list(products.values_list("pk", flat=True)) if isinstance(products, QuerySet) else list(products)
    now = timezone.now()
    for chunk in chunked(ids, 5000):
        ProductEmbedding.objects.bulk_create(
            [
                ProductEmbedding(product_id=pid, status=EmbeddingStatus.PENDING, job=job, requested_at=now)
                for pid in chunk
            ],
            ignore_conflicts=True,
        )
        update: dict[str, object] = {"status": EmbeddingStatus.PENDING, "requested_at": now, "error": ""}
        if job is not None:
            update["job"] = job
        ProductEmbedding.objects.filter(product_id__in=chunk).update(**update)
    return len(ids)


def embeddings_enqueue(product_ids: Sequence[int], *, job_id: int | None = None, force: bool = False) -> bool:
    """Send the embedding tasks (one per batch of products). Returns False, and notes the
    reason on the rows, when the task queue cannot be reached."""
    from visualsearch.tasks import embed_products

    batch = settings.VISUALSEARCH_TASK_BATCH
    sent = 0
    try:
        for chunk in chunked(list(product_ids), batch):
            embed_products.delay(list(chunk), job_id=job_id, force=force)
            sent += len(chunk)
    except Exception as exc:  # kombu/redis connection errors have no common base class
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.error("could not queue embeddings for %d products: %s", len(product_ids) - sent, exc)
        ProductEmbedding.objects.filter(product_id__in=list(product_ids)[sent:], status=EmbeddingStatus.PENDING).update(
            error=f"{NOT_QUEUED} ({exc}). Use “Compute embeddings” once it is back."
        )
        return False
    return True


def embeddings_schedule(product_ids: Sequence[int], *, force: bool = False) -> None:
    """Mark these products' embeddings pending and queue their computation once the
    current transaction commits."""
    ids = list(product_ids)
    if not ids:
        return
    embeddings_mark_pending(ids)
    transaction.on_commit(lambda: embeddings_enqueue(ids, force=force))


def products_imported(
    *, created_ids: Sequence[int], updated_ids: Sequence[int], image_changed_ids: Sequence[int], embed: bool = True
) -> None:
    """The catalogue import's per-batch seam: new and re-imaged products get embeddings
    (one task per batch), every changed product is announced to the search indexes."""
    index_changes_record([*created_ids, *updated_ids])
    if embed:
        embeddings_schedule([*created_ids, *image_changed_ids])


# --- Computing ------------------------------------------------------------------------


@dataclass
class _Loaded:
    product_id: int
    checksum: str = ""
    pixels: np.ndarray | None = None
    error: str = ""


def _load_image(product: Product) -> _Loaded:
    """Read one product image from storage and prepare the model input (runs in a thread)."""
    name = product.image.name
    if not name:
        return _Loaded(product.pk, error="The product has no image.")
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return _Loaded(product.pk, error=f"The image file {name} is missing from storage.")
    except (ConnectionError, TimeoutError):
        raise  # storage briefly unreachable: the task retries the batch with backoff
    except Exception as exc:  # permissions, S3 errors, …: record it rather than stall the job
        return _Loaded(product.pk, error=f"The image file {name} could not be read from storage ({exc}).")
    checksum = hashlib.sha256(data).hexdigest()
    try:
        return _Loaded(product.pk, checksum, bytes_to_model_input(data))
    except ImageRejected as exc:
        return _Loaded(product.pk, checksum, error=f"Unreadable image {name}: {exc}")


def _store_chunk(loaded: list[_Loaded], vectors: dict[int, np.ndarray], unchanged: set[int], version: str) -> None:
    now = timezone.now()
    rows = []
    for item in loaded:
        if item.product_id in unchanged:
            continue
        if item.error:
            rows.append(
                ProductEmbedding(
                    product_id=item.product_id,
                    status=EmbeddingStatus.FAILED,
                    error=item.error,
                    source_checksum=item.checksum,
                    computed_at=now,
                )
            )
        else:
            rows.append(
                ProductEmbedding(
                    product_id=item.product_id,
                    status=EmbeddingStatus.DONE,
                    error="",
                    vector=vectors[item.product_id].astype("<f4").tobytes(),
                    model_version=version,
                    source_checksum=item.checksum,
                    computed_at=now,
                )
            )
    with transaction.atomic():
        # Upsert: vector and state replace the old ones in one statement, so searches see
        # either the old or the new embedding, never none. A failure keeps the old vector.
        done = [r for r in rows if r.status == EmbeddingStatus.DONE]
        failed = [r for r in rows if r.status == EmbeddingStatus.FAILED]
        if done:
            ProductEmbedding.objects.bulk_create(
                done,
                update_conflicts=True,
                unique_fields=["product"],
                update_fields=[
                    "vector",
                    "status",
                    "error",
                    "model_version",
                    "source_checksum",
                    "computed_at",
                    "updated",
                ],
            )
        if failed:
            ProductEmbedding.objects.bulk_create(
                failed,
                update_conflicts=True,
                unique_fields=["product"],
                update_fields=["status", "error", "computed_at", "updated"],
            )
        if unchanged:
            ProductEmbedding.objects.filter(product_id__in=unchanged).update(
                status=EmbeddingStatus.DONE, error="", updated=now
            )
        index_changes_record(r.product_id for r in done)


def _targets(product_ids: Sequence[int], job_id: int | None) -> list[Product]:
    products = Product.objects.filter(pk__in=list(product_ids)).only("pk", "image").order_by("pk")
    if job_id is not None:
        # A redelivered or resumed batch only redoes what is still pending for its job.
        products = products.filter(embedding__job_id=job_id, embedding__status=EmbeddingStatus.PENDING)
    return list(products)


def embeddings_compute(
    product_ids: Sequence[int],
    *,
    job_id: int | None = None,
    force: bool = False,
    on_chunk: Callable[[int], None] = lambda n: None,
) -> ComputeResult:
    """Compute and store the embeddings of these products.

    Images are read and decoded in a background thread one chunk ahead of the model, so
    storage I/O and decoding overlap with inference. An image whose bytes match the stored
    embedding (same sha256, same model) is not recomputed unless ``force``. Unreadable or
    missing images are recorded as failed with the reason; they are not retried.
    """
    from visualsearch import embedder

    version = embedder.MODEL_VERSION
    result = ComputeResult()
    products = _targets(product_ids, job_id)
    if not products:
        return result
    current = {
        e.product_id: e
        for e in ProductEmbedding.objects.filter(product_id__in=[p.pk for p in products]).only(
            "product_id", "source_checksum", "model_version", "status", "job_id"
        )
    }
    chunks = chunked(products, settings.VISUALSEARCH_BATCH_SIZE)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-io") as pool:
        ahead = pool.submit(lambda c=chunks[0]: [_load_image(p) for p in c])
        for index in range(len(chunks)):
            loaded = ahead.result()
            if index + 1 < len(chunks):
                ahead = pool.submit(lambda c=chunks[index + 1]: [_load_image(p) for p in c])
            unchanged = set()
            if not force:
                for item in loaded:
                    row = current.get(item.product_id)
                    if (
                        row is not None
                        and not item.error
                        and row.source_checksum == item.checksum
                        and row.model_version == version
                        and row.status != EmbeddingStatus.FAILED
                    ):
                        unchanged.add(item.product_id)
            todo = [item for item in loaded if not item.error and item.product_id not in unchanged]
            vectors: dict[int, np.ndarray] = {}
            if todo:
                batch = embedder.embed_batch(np.stack([item.pixels for item in todo]))
                vectors = {item.product_id: vec for item, vec in zip(todo, batch, strict=True)}
            _store_chunk(loaded, vectors, unchanged, version)
            result.add(
                ComputeResult(
                    done=len(vectors), unchanged=len(unchanged), failed=sum(1 for item in loaded if item.error)
                )
            )
            if job_id is not None:
                reindex_job_check_finished(job_id)
            on_chunk(len(loaded))
    if job_id is None:
        _close_jobs_finished_meanwhile(current.values())
    return result


def _close_jobs_finished_meanwhile(rows: Iterable[ProductEmbedding]) -> None:
    """A product of a running reindex can be computed outside it (saved with a new image
    meanwhile); the job's own batches then skip it, so this computation may be the one that
    finishes the job."""
    job_ids = {row.job_id for row in rows if row.job_id is not None}
    if job_ids:
        for running in ReindexJob.objects.filter(pk__in=job_ids, state=ReindexJob.State.RUNNING).values_list(
            "pk", flat=True
        ):
            reindex_job_check_finished(running)


def embeddings_record_failure(product_ids: Sequence[int], reason: str) -> None:
    """Mark rows failed for a reason that is not the image's (e.g. missing model weights)."""
    ProductEmbedding.objects.filter(product_id__in=list(product_ids)).exclude(
        status=EmbeddingStatus.DONE, error=""
    ).update(status=EmbeddingStatus.FAILED, error=reason, computed_at=timezone.now())


# --- Reindex jobs -----------------------------------------------------------------------


def reindex_targets(mode: str) -> QuerySet[Product]:
    """Active products a reindex of this mode covers."""
    products = Product.objects.filter(is_active=True)
    if mode == ReindexJob.Mode.MISSING:
        current = Q(embedding__status=EmbeddingStatus.DONE, embedding__model_version=MODEL_VERSION)
        products = products.exclude(current)
    return products.order_by("pk")


def reindex_job_start(mode: str, *, user=None, limit: int | None = None, dispatch: bool = True) -> ReindexJob:
    """Start a reindex as batched tasks. Refuses while one runs (ReindexAlreadyRunning) and
    creates no job when there is nothing to do (NothingToReindex)."""
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
            raise NothingToReindex(
                "Nothing to do: every active product already has a current embedding."
                if mode == ReindexJob.Mode.MISSING
                else "Nothing to do: there are no active products."
            )
        embeddings_mark_pending(ids, job=job)
        job.total = len(ids)
        job.save(update_fields=["total"])
        if dispatch:
            transaction.on_commit(lambda: embeddings_enqueue(ids, job_id=job.pk, force=mode == ReindexJob.Mode.ALL))
    job.refresh_from_db()
    return job


def reindex_job_running() -> ReindexJob | None:
    return ReindexJob.objects.filter(state=ReindexJob.State.RUNNING).first()


def reindex_job_pending_ids(job: ReindexJob) -> list[int]:
    return list(
        ProductEmbedding.objects.filter(job=job, status=EmbeddingStatus.PENDING)
        .order_by("product_id")
        .values_list("product_id", flat=True)
    )


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
    return True


def projection_update_after_reindex(*, refit: bool) -> None:
    """The index's PCA projection: fitted once enough embeddings exist, refitted after a full
    reindex (every web process then reloads its index once). Never fails the reindex."""
    from visualsearch.projection import projection_fit

    try:
        projection_fit(refit=refit)
    except Exception:
        logger.exception("could not fit the PCA projection after the reindex")


def reindex_job_resume(job: ReindexJob) -> int:
    """Queue again whatever a running job still has pending (after a worker was killed)."""
    if job.state != ReindexJob.State.RUNNING:
        return 0
    ids = reindex_job_pending_ids(job)
    if ids:
        embeddings_enqueue(ids, job_id=job.pk, force=job.mode == ReindexJob.Mode.ALL)
    else:
        reindex_job_check_finished(job.pk)
    return len(ids)


def reindex_jobs_resume_running() -> int:
    """Called when a worker starts: a job whose worker died mid-batch carries on."""
    return sum(reindex_job_resume(job) for job in ReindexJob.objects.filter(state=ReindexJob.State.RUNNING))


def reindex_job_retry_failed(job: ReindexJob) -> int:
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
        transaction.on_commit(lambda: embeddings_enqueue(ids, job_id=job.pk, force=True))
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
