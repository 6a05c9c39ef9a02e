"""Writes of embeddings: marking products pending, queueing their computation, computing
and storing the vectors. Tasks, the reindex services and the shop's signals call these."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.images import ImageRejected
from shop.conf import shop_settings
from shop.models import Product, ProductImage
from visualsearch.conf import vs_settings
from visualsearch.ml import colour as colour_mod
from visualsearch.ml import embedder
from visualsearch.ml.preprocessing import bytes_to_model_input
from visualsearch.models import EmbeddingStatus, ImageEmbedding, ProductEmbedding, ReindexJob
from visualsearch.services.changelog import index_changes_record
from visualsearch.services.job_progress import reindex_job_check_finished, reindex_jobs_close_finished_meanwhile
from visualsearch.services.task_queue import task_queue

logger = logging.getLogger(__name__)

NOT_QUEUED = "Not queued: the task queue is unavailable"
# Errors worth retrying: the database or storage was briefly unreachable.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)

T = TypeVar("T")


@dataclass
class ComputeResult:
    done: int = 0
    unchanged: int = 0
    failed: int = 0
    # The products' more images (``image_embeddings_compute``): computed, and failed.
    images_done: int = 0
    images_failed: int = 0

    def add(self, other: ComputeResult) -> None:
        self.done += other.done
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.images_done += other.images_done
        self.images_failed += other.images_failed


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


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
    queue = task_queue()
    batch = vs_settings.TASK_BATCH
    sent = 0
    try:
        for chunk in chunked(list(product_ids), batch):
            queue.embed_products(list(chunk), job_id=job_id, force=force)
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


# --- Computing ------------------------------------------------------------------------


@dataclass
class _Loaded:
    product_id: int
    checksum: str = ""
    pixels: np.ndarray | None = None
    error: str = ""
    colour: bytes | None = None  # the colour descriptor (visualsearch.ml.colour), stored form


def _load_image(product: Product | ProductImage) -> _Loaded:
    """Read one product image (its main image, or one of its more images: then ``product_id``
    holds the image's id) from storage and prepare the model input (runs in a thread)."""
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
        # Catalogue photos: staff's limit for formats decoded at full size (the cheap path).
        pixels = bytes_to_model_input(data, max_decoded_pixels=shop_settings.IMAGE_MAX_DECODED_PIXELS)
        return _Loaded(product.pk, checksum, pixels, colour=colour_mod.to_bytes(colour_mod.colour_descriptor(pixels)))
    except ImageRejected as exc:
        return _Loaded(product.pk, checksum, error=f"Unreadable image {name}: {exc}")
    except Exception as exc:  # never let one file fail the batch: it fails only its own product
        logger.exception("unexpected error decoding %s", name)
        return _Loaded(product.pk, checksum, error=f"Unreadable image {name}: {type(exc).__name__}: {exc}")


def _load_images(products: Sequence[Product] | Sequence[ProductImage]) -> list[_Loaded]:
    return [_load_image(p) for p in products]


def _store_chunk(
    loaded: list[_Loaded],
    vectors: dict[int, np.ndarray],
    unchanged: set[int],
    version: str,
    colourless: set[int] | frozenset[int] = frozenset(),
) -> None:
    """``colourless``: unchanged rows stored without a colour descriptor, which get it now
    (no new forward pass: the descriptor comes from the pixels alone)."""
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
                    colour=item.colour,
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
                    "colour",
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
            fill = [
                ProductEmbedding(product_id=item.product_id, colour=item.colour)
                for item in loaded
                if item.product_id in unchanged and item.product_id in colourless and item.colour is not None
            ]
            if fill:
                ProductEmbedding.objects.bulk_update(fill, ["colour"])
                index_changes_record(f.product_id for f in fill)
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
    colourless = set(
        ProductEmbedding.objects.filter(product_id__in=list(current), colour__isnull=True).values_list(
            "product_id", flat=True
        )
    )
    chunks = chunked(products, vs_settings.BATCH_SIZE)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-io") as pool:
        ahead = pool.submit(_load_images, chunks[0])
        for index in range(len(chunks)):
            loaded = ahead.result()
            if index + 1 < len(chunks):
                ahead = pool.submit(_load_images, chunks[index + 1])
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
                pixels = [item.pixels for item in todo if item.pixels is not None]  # all: none has an error
                batch = embedder.embed_batch(np.stack(pixels))
                vectors = {item.product_id: vec for item, vec in zip(todo, batch, strict=True)}
            _store_chunk(loaded, vectors, unchanged, version, colourless)
            result.add(
                ComputeResult(
                    done=len(vectors), unchanged=len(unchanged), failed=sum(1 for item in loaded if item.error)
                )
            )
            # The same products' more images, before the job can count these products done.
            result.add(image_embeddings_compute([item.product_id for item in loaded], force=force))
            if job_id is not None:
                reindex_job_check_finished(job_id)
            on_chunk(len(loaded))
    if job_id is None:
        reindex_jobs_close_finished_meanwhile(current.values())
    return result


def image_embeddings_compute(product_ids: Sequence[int], *, force: bool = False) -> ComputeResult:
    """Compute and store the embeddings of these products' more images (``ProductImage``;
    the main image is ``embeddings_compute``'s), by the same rules: an image whose bytes match
    its stored embedding (same sha256, same model) is skipped unless ``force``; an unreadable
    or missing one is recorded failed with the reason (a previous vector keeps serving).
    Each stored vector is written to the change log under its product."""
    version = embedder.MODEL_VERSION
    result = ComputeResult()
    images = list(
        ProductImage.objects.filter(product_id__in=list(product_ids)).only("pk", "product_id", "image").order_by("pk")
    )
    if not images:
        return result
    product_of = {image.pk: image.product_id for image in images}
    current = {
        row.image_id: row
        for row in ImageEmbedding.objects.filter(image_id__in=list(product_of)).only(
            "image_id", "source_checksum", "model_version", "status"
        )
    }
    for chunk in chunked(images, vs_settings.BATCH_SIZE):
        loaded = _load_images(chunk)  # product_id: the image's id
        unchanged = set()
        if not force:
            for item in loaded:
                row = current.get(item.product_id)
                if (
                    row is not None
                    and not item.error
                    and row.source_checksum == item.checksum
                    and row.model_version == version
                    and row.status == EmbeddingStatus.DONE
                ):
                    unchanged.add(item.product_id)
        todo = [item for item in loaded if not item.error and item.product_id not in unchanged]
        vectors: dict[int, np.ndarray] = {}
        if todo:
            batch = embedder.embed_batch(np.stack([item.pixels for item in todo if item.pixels is not None]))
            vectors = {item.product_id: vec for item, vec in zip(todo, batch, strict=True)}
        _store_image_chunk(loaded, vectors, unchanged, product_of, version)
        result.add(ComputeResult(images_done=len(vectors), images_failed=sum(1 for item in loaded if item.error)))
    return result


def _store_image_chunk(
    loaded: list[_Loaded],
    vectors: dict[int, np.ndarray],
    unchanged: set[int],
    product_of: dict[int, int],
    version: str,
) -> None:
    now = timezone.now()
    done: list[ImageEmbedding] = []
    failed: list[ImageEmbedding] = []
    for item in loaded:
        if item.product_id in unchanged:
            continue
        row = ImageEmbedding(
            image_id=item.product_id,
            product_id=product_of[item.product_id],
            source_checksum=item.checksum,
            computed_at=now,
            model_version=version,
        )
        if item.error:
            row.status, row.error = EmbeddingStatus.FAILED, item.error
            failed.append(row)
        else:
            row.status, row.error = EmbeddingStatus.DONE, ""
            row.vector = vectors[item.product_id].astype("<f4").tobytes()
            row.colour = item.colour
            done.append(row)
    with transaction.atomic():
        # An image deleted while it was being embedded is not brought back.
        alive = set(
            ProductImage.objects.filter(pk__in=[r.image_id for r in done + failed]).values_list("pk", flat=True)
        )
        done = [r for r in done if r.image_id in alive]
        failed = [r for r in failed if r.image_id in alive]
        if done:
            ImageEmbedding.objects.bulk_create(
                done,
                update_conflicts=True,
                unique_fields=["image"],
                update_fields=[
                    "vector",
                    "colour",
                    "status",
                    "error",
                    "model_version",
                    "source_checksum",
                    "computed_at",
                    "updated",
                ],
            )
        if failed:
            ImageEmbedding.objects.bulk_create(
                failed,
                update_conflicts=True,
                unique_fields=["image"],
                update_fields=["status", "error", "computed_at", "updated"],
            )
        index_changes_record({r.product_id for r in done})


def embeddings_compute_or_fail(
    product_ids: Sequence[int],
    *,
    job_id: int | None = None,
    force: bool = False,
    on_chunk: Callable[[int], None] = lambda n: None,
) -> ComputeResult:
    """``embeddings_compute``, except that an unexpected error (not a transient database or
    storage one, which callers retry) marks the still-pending products failed with the
    reason instead of leaving them, and their job, pending for ever."""
    try:
        return embeddings_compute(product_ids, job_id=job_id, force=force, on_chunk=on_chunk)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        logger.exception("computing the embeddings of %d products failed", len(product_ids))
        embeddings_record_failure(product_ids, f"The embedding computation failed: {type(exc).__name__}: {exc}")
        if job_id is not None:
            reindex_job_check_finished(job_id)
        return ComputeResult(failed=len(product_ids))


def embeddings_record_failure(product_ids: Sequence[int], reason: str) -> None:
    """Mark rows failed for a reason that is not the image's (e.g. missing model weights)."""
    ProductEmbedding.objects.filter(product_id__in=list(product_ids)).exclude(
        status=EmbeddingStatus.DONE, error=""
    ).update(status=EmbeddingStatus.FAILED, error=reason, computed_at=timezone.now())
