"""Reads of visual search: similar products, stored vectors, embedding counts, reindex progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from shop.attributes import SEARCHABLE_ATTRIBUTES
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index.base import FULL_DIMS, Hit
from visualsearch.models import (
    EmbeddingStatus,
    HeadTrainingJob,
    ImageEmbedding,
    IndexArtifact,
    ItemLocaliser,
    ProductEmbedding,
    ReindexJob,
    SimilarityHead,
)

# Refinements a shopper can toggle on "find similar": query parameter → (indexed field, label).
REFINEMENTS = {a.refinement_param: (a.field, a.refinement_label) for a in SEARCHABLE_ATTRIBUTES}
# Explicit filters for photo search (and the API): query parameter → indexed field.
PHOTO_FILTERS = {a.param: a.field for a in SEARCHABLE_ATTRIBUTES}
# "In stock only": a toggle on find similar and photo search (on by default on the pages).
IN_STOCK_PARAM = "in_stock"
IN_STOCK_LABEL = "In stock only"
# Values of a refinement toggle that mean "off" (a checkbox sends "on"; links may send "0").
_OFF = {"", "0", "false", "off", "no"}


def refinement_on(value: object) -> bool:
    """Whether a toggle's query-string value switches the refinement on."""
    return value not in (None, False) and str(value).strip().lower() not in _OFF


@dataclass
class SimilarProduct:
    product: Product
    score: float


def products_for_hits(hits: list[Hit]) -> list[SimilarProduct]:
    """The products behind search hits, in rank order (one query)."""
    products = Product.objects.prefetch_related("variants").in_bulk([h.product_id for h in hits])
    return [SimilarProduct(products[h.product_id], h.score) for h in hits if h.product_id in products]


def product_prices(product_ids: Sequence[int]) -> dict[int, Decimal | None]:
    """The prices of these products, by id (one query, prices only)."""
    return dict(Product.objects.filter(pk__in=list(product_ids)).values_list("pk", "price").order_by())


def stored_vectors_load(product_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """The stored vectors (2048-dim, current model only) and colour descriptors (None where
    none is stored) of these products, by product id; a product without one is left out."""
    from visualsearch.ml.colour import from_bytes as colour_from_bytes
    from visualsearch.ml.embedder import MODEL_VERSION

    rows = (
        ProductEmbedding.objects.filter(
            product_id__in=list(product_ids), model_version=MODEL_VERSION, vector__isnull=False
        )
        .values_list("product_id", "vector", "colour")
        .order_by()
    )
    return {
        pid: (np.frombuffer(bytes(vector), dtype="<f4"), colour_from_bytes(colour))
        for pid, vector, colour in rows
        if vector is not None
    }


def stored_colours_load(product_ids: Sequence[int]) -> dict[int, np.ndarray | None]:
    """The stored colour descriptors (None where none is stored) of these products that have
    a stored vector of the current model, by product id: ``stored_vectors_load`` without the
    vectors, for photo search's ranking when the index already holds its rows."""
    from visualsearch.ml.colour import from_bytes as colour_from_bytes
    from visualsearch.ml.embedder import MODEL_VERSION

    rows = (
        ProductEmbedding.objects.filter(
            product_id__in=list(product_ids), model_version=MODEL_VERSION, vector__isnull=False
        )
        .values_list("product_id", "colour")
        .order_by()
    )
    return {pid: colour_from_bytes(colour) for pid, colour in rows}


def stored_image_vectors_load(image_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """``stored_vectors_load`` for products' more images, by image id."""
    from visualsearch.ml.colour import from_bytes as colour_from_bytes
    from visualsearch.ml.embedder import MODEL_VERSION

    rows = (
        ImageEmbedding.objects.filter(image_id__in=list(image_ids), model_version=MODEL_VERSION, vector__isnull=False)
        .values_list("image_id", "vector", "colour")
        .order_by()
    )
    return {
        image_id: (np.frombuffer(bytes(vector), dtype="<f4"), colour_from_bytes(colour))
        for image_id, vector, colour in rows
        if vector is not None
    }


def product_photo_vectors_load(product_id: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The stored vectors and colour descriptors of every photo of a product (current model):
    its main image's first, then its more images'."""
    from visualsearch.ml.colour import from_bytes as colour_from_bytes
    from visualsearch.ml.embedder import MODEL_VERSION

    main = stored_vectors_load([product_id]).get(product_id)
    more = (
        ImageEmbedding.objects.filter(product_id=product_id, model_version=MODEL_VERSION, vector__isnull=False)
        .values_list("vector", "colour")
        .order_by("image_id")
    )
    photos = [
        (np.frombuffer(bytes(vector), dtype="<f4"), colour_from_bytes(colour))
        for vector, colour in more
        if vector is not None
    ]
    return ([main] if main is not None else []) + photos


@dataclass
class EmbeddingCounts:
    products: int
    done: int
    pending: int
    failed: int
    missing: int
    stale: int

    @property
    def to_reindex(self) -> int:
        """What "reindex missing" covers: no current embedding (never computed, waiting,
        failed, or from an older model)."""
        return self.missing + self.pending + self.failed + self.stale


def embedding_counts() -> EmbeddingCounts:
    """How far the active catalogue's embeddings are (for the admin)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    rows = ProductEmbedding.objects.filter(product__is_active=True).aggregate(
        done=Count("pk", filter=Q(status=EmbeddingStatus.DONE, model_version=MODEL_VERSION)),
        stale=Count("pk", filter=Q(status=EmbeddingStatus.DONE) & ~Q(model_version=MODEL_VERSION)),
        pending=Count("pk", filter=Q(status=EmbeddingStatus.PENDING)),
        failed=Count("pk", filter=Q(status=EmbeddingStatus.FAILED)),
        rows=Count("pk"),
    )
    products = Product.objects.filter(is_active=True).count()
    return EmbeddingCounts(
        products=products,
        done=rows["done"],
        pending=rows["pending"],
        failed=rows["failed"],
        missing=products - rows["rows"],
        stale=rows["stale"],
    )


@dataclass
class JobProgress:
    job: ReindexJob
    total: int
    done: int
    failed: int
    pending: int
    percent: float
    rate_per_second: float | None
    eta_seconds: float | None
    elapsed_seconds: float


def reindex_job_progress(job: ReindexJob) -> JobProgress:
    """Live counts of a running job (from its rows), or the recorded ones of a finished job."""
    if job.state == ReindexJob.State.RUNNING:
        counts = ProductEmbedding.objects.filter(job=job).aggregate(
            done=Count("pk", filter=Q(status=EmbeddingStatus.DONE)),
            failed=Count("pk", filter=Q(status=EmbeddingStatus.FAILED)),
            pending=Count("pk", filter=Q(status=EmbeddingStatus.PENDING)),
        )
        done, failed, pending = counts["done"], counts["failed"], counts["pending"]
    else:
        done, failed = job.done_count, job.failed_count
        pending = 0
    total = done + failed + pending
    end = job.finished_at or timezone.now()
    elapsed = max((end - (job.started_at or job.created)).total_seconds(), 0.0)
    finished = done + failed
    rate = finished / elapsed if elapsed > 0 and finished else None
    eta = pending / rate if rate and pending else None
    return JobProgress(
        job=job,
        total=total,
        done=done,
        failed=failed,
        pending=pending,
        percent=100.0 * finished / total if total else 100.0,
        rate_per_second=rate,
        eta_seconds=eta,
        elapsed_seconds=elapsed,
    )


def reindex_job_running() -> ReindexJob | None:
    """The reindex job running now, if any (one at a time)."""
    return ReindexJob.objects.filter(state=ReindexJob.State.RUNNING).first()


def reindex_jobs_recent(limit: int = 10) -> list[JobProgress]:
    return [reindex_job_progress(job) for job in ReindexJob.objects.select_related("requested_by")[:limit]]


def embedding_failures(limit: int = 50) -> list[ProductEmbedding]:
    return list(
        ProductEmbedding.objects.filter(status=EmbeddingStatus.FAILED)
        .select_related("product")
        .defer("vector")
        .order_by("-computed_at")[:limit]
    )


def task_queue_lengths() -> dict[str, int] | None:
    """Messages waiting in the broker's queues, or None without a reachable broker."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    from celery import current_app

    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
            client = connection.default_channel.client
            return {queue: int(client.llen(queue)) for queue in ("celery", "query")}
    except Exception:
        return None


@dataclass
class StoredEmbeddings:
    """Active products' stored embeddings in memory, in product id order: raw vectors, colour
    descriptors (NaN rows where none is stored) and the product fields asked for ("" when blank)."""

    ids: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray
    fields: dict[str, list[str]]


def stored_embeddings_load(fields: Sequence[str], model_versions: Sequence[str]) -> StoredEmbeddings:
    """Every active product's stored vector of these model versions, with its colour
    descriptor and these product fields (for training and evaluation)."""
    from visualsearch.ml.colour import COLOUR_DIM
    from visualsearch.ml.colour import from_bytes as colour_from_bytes

    rows = (
        ProductEmbedding.objects.filter(
            product__is_active=True, vector__isnull=False, model_version__in=list(model_versions)
        )
        .order_by("product_id")
        .values_list("product_id", "vector", "colour", *(f"product__{name}" for name in fields))
    )
    ids: list[int] = []
    raw: list[bytes] = []
    colours: list[np.ndarray] = []
    missing = np.full(COLOUR_DIM, np.nan, np.float32)
    values: dict[str, list[str]] = {name: [] for name in fields}
    for row in rows.iterator(chunk_size=2000):
        ids.append(row[0])
        raw.append(bytes(row[1]))
        colour = colour_from_bytes(row[2])
        colours.append(missing if colour is None else colour)
        for name, value in zip(fields, row[3:], strict=True):
            values[name].append(value or "")
    return StoredEmbeddings(
        np.asarray(ids, dtype=np.int64),
        np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), FULL_DIMS).astype(np.float32),
        np.stack(colours) if colours else np.zeros((0, COLOUR_DIM), np.float32),
        values,
    )


def image_checksums(product_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """The sha256 of each product's image ("" where unknown), in the order of ``product_ids``."""
    known = dict(Product.objects.filter(pk__in=[int(pid) for pid in product_ids]).values_list("pk", "image_checksum"))
    return np.asarray([known.get(int(pid), "") or "" for pid in product_ids], dtype=object)


# --- similarity heads ---------------------------------------------------------------------------


def head_active() -> SimilarityHead | None:
    return SimilarityHead.objects.filter(active=True).first()


def served_model_version(active: SimilarityHead | None) -> str:
    """The model version find similar is served with: the backbone, plus the active head
    (the same string as ``EmbeddingIndex.model_version`` and the API's ``model_version``)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    if active is None or not vs_settings.HEAD_ENABLED or active.backbone_version != MODEL_VERSION:
        return MODEL_VERSION
    return f"{MODEL_VERSION}+{active.version}"


@dataclass
class TrainingProgress:
    job: HeadTrainingJob
    percent: float
    elapsed_seconds: float
    eta_seconds: float | None


def head_training_job_progress(job: HeadTrainingJob) -> TrainingProgress:
    """A retrain's share done, time taken and (once a few percent are done) time left."""
    end = job.finished_at or timezone.now()
    elapsed = max((end - (job.started_at or job.created)).total_seconds(), 0.0)
    eta = elapsed * (1 - job.progress) / job.progress if 0.03 <= job.progress < 1 and elapsed > 0 else None
    return TrainingProgress(job, 100.0 * job.progress, elapsed, eta)


def head_training_jobs_recent(limit: int = 5) -> list[TrainingProgress]:
    jobs = HeadTrainingJob.objects.select_related("requested_by", "head").defer("head__weights")[:limit]
    return [head_training_job_progress(job) for job in jobs]


def catalogue_twins_by_checksum() -> dict[str, int]:
    """Active products sharing a byte-identical picture with another (by their image
    checksum), and in how many groups: one query, for the heads page."""
    groups = (
        Product.objects.filter(is_active=True)
        .exclude(image_checksum="")
        .values("image_checksum")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("n", flat=True)
    )
    sizes = list(groups)
    return {"products": sum(sizes), "groups": len(sizes)}


def products_by_ids(ids: Sequence[int] | set[int]) -> dict[int, Product]:
    """Products by id (any state: examples of a head stay readable after a product is retired)."""
    return Product.objects.in_bulk(list(ids))


def index_artifacts_recent(limit: int = 5) -> list[IndexArtifact]:
    """The newest FAISS index artifacts (any state), newest first."""
    return list(IndexArtifact.objects.order_by("-id")[:limit])


def localiser_active() -> ItemLocaliser | None:
    """The item localiser photo search uses (None: none trained or activated)."""
    return ItemLocaliser.objects.filter(active=True).first()


_localiser_cache: dict[int, object] = {}


def localiser_active_load() -> tuple[str, object] | None:
    """The active item localiser, loaded (``visualsearch.ml.localiser.Localiser``) with its
    version; one cheap query per call, the weights read and parsed once per version and
    process. None when none is active, or it was made for other backbone weights."""
    from visualsearch.ml.embedder import MODEL_VERSION
    from visualsearch.ml.localiser import Localiser

    row = ItemLocaliser.objects.filter(active=True).values_list("pk", "backbone_version").first()
    if row is None or row[1] != MODEL_VERSION:
        return None
    pk = int(row[0])
    loaded = _localiser_cache.get(pk)
    if loaded is None:
        weights = ItemLocaliser.objects.filter(pk=pk).values_list("weights", flat=True).first()
        if weights is None:
            return None
        loaded = Localiser.from_bytes(weights)
        _localiser_cache.clear()
        _localiser_cache[pk] = loaded
    return f"localiser-v{pk}", loaded
