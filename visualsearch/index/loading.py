"""Loading the index a process serves from the database, and keeping it fresh.

``LiveIndex`` is what ``visualsearch.index.get_index`` hands out: it holds one of the index
data structures (the exact ``EmbeddingIndex``, or a ``FaissIndex`` over the newest ready
artifact when the site serves FAISS), loads it on first use and then applies the index change
log (``changelog.ChangeLogReader``, which also catches changes that commit late), so only
changed rows are read again. It reloads everything when the PCA projection or the active
similarity head changed, when a new artifact is ready, when too many changes are pending, and
after an idle spell past half the change log's retention (the log may have been pruned).

Without a usable artifact (none built yet, its files unreadable, or built for another model
version, projection or head: refused with a log line) a FAISS site serves the exact index, and
switches to an artifact at the first refresh that finds a matching one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.utils import timezone
from django.utils.module_loading import import_string

from shop.attributes import SEARCHABLE_FIELDS, STOCK_FIELD
from shop.selectors import product_in_stock_expression
from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index.artifact import SPACE_RAW, SPACE_SIMILAR
from visualsearch.index.base import Hit, SearchIndex
from visualsearch.index.changelog import FULL_RELOAD_AFTER, ChangeLogReader, latest_change_id
from visualsearch.index.faiss_index import FaissIndex
from visualsearch.index.images import ImageHit, ImageRowBlock, ImageRows
from visualsearch.index.memory import BLOCK_ROWS, ActiveHead, EmbeddingIndex, RowBlock
from visualsearch.index.projection import ProjectionData, projection_current, projection_current_id
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.ml.head import SimilarityModel
from visualsearch.ml.photo_projection import PhotoProjection
from visualsearch.models import ImageEmbedding, ProductEmbedding

logger = logging.getLogger(__name__)

# seed_synthetic_embeddings' random vectors (load tests) carry this version: the index
# serves them only with VISUALSEARCH_INDEX_SYNTHETIC, and `reindex --missing` replaces them.
SYNTHETIC_MODEL_VERSION = f"{MODEL_VERSION}+synthetic"


def served_model_versions() -> list[str]:
    """The model versions whose vectors the index serves."""
    return [MODEL_VERSION, SYNTHETIC_MODEL_VERSION] if vs_settings.INDEX_SYNTHETIC else [MODEL_VERSION]


def active_head_id() -> int | None:
    """The active similarity head's id, if the index should use one."""
    if not vs_settings.HEAD_ENABLED:
        return None
    from visualsearch.models import SimilarityHead

    return (
        SimilarityHead.objects.filter(active=True, backbone_version=MODEL_VERSION).values_list("pk", flat=True).first()
    )


def active_head_load() -> ActiveHead | None:
    if not vs_settings.HEAD_ENABLED:
        return None
    from visualsearch.models import SimilarityHead

    row = SimilarityHead.objects.filter(active=True, backbone_version=MODEL_VERSION).only("pk", "weights").first()
    return ActiveHead(row.pk, SimilarityModel.from_bytes(row.weights)) if row else None


def colours_decode(raw: Sequence[bytes | memoryview | None]) -> np.ndarray:
    """Stored colour descriptors as (N, 196) float32; NaN rows where none is stored."""
    out = np.full((len(raw), colour_mod.COLOUR_DIM), np.nan, np.float32)
    for i, data in enumerate(raw):
        colour = colour_mod.from_bytes(data)
        if colour is not None:
            out[i] = colour
    return out


def embedding_rows(product_ids: Iterable[int] | None = None) -> Any:
    """The searchable rows (of these products): (product id, vector, colour, *FILTER_FIELDS)."""
    rows = ProductEmbedding.objects.filter(
        product__is_active=True, vector__isnull=False, model_version__in=served_model_versions()
    )
    if product_ids is not None:
        rows = rows.filter(product_id__in=list(product_ids))
    # in_stock comes from the sizes; a stock change is announced through the change log
    # like any other (orders, admin), so refreshes pick it up.
    rows = rows.annotate(**{STOCK_FIELD: product_in_stock_expression("product_id")})
    return rows.values_list(
        "product_id", "vector", "colour", *(f"product__{name}" for name in SEARCHABLE_FIELDS), STOCK_FIELD
    )


def image_embedding_rows(product_ids: Iterable[int] | None = None) -> Any:
    """The searchable more-image rows (of these products): (image id, product id, vector,
    *FILTER_FIELDS of the product)."""
    rows = ImageEmbedding.objects.filter(
        product__is_active=True, vector__isnull=False, model_version__in=served_model_versions()
    )
    if product_ids is not None:
        rows = rows.filter(product_id__in=list(product_ids))
    rows = rows.annotate(**{STOCK_FIELD: product_in_stock_expression("product_id")})
    return rows.values_list(
        "image_id", "product_id", "vector", *(f"product__{name}" for name in SEARCHABLE_FIELDS), STOCK_FIELD
    )


def image_rows_read(projection: ProjectionData | None, head: ActiveHead | None) -> ImageRows:
    """Every searchable more image, in this projection and head's photo space."""
    rows = image_embedding_rows().order_by("image_id").iterator(chunk_size=BLOCK_ROWS)

    def blocks() -> Iterator[ImageRowBlock]:
        pending: list[tuple] = []
        for row in rows:
            pending.append(row)
            if len(pending) == BLOCK_ROWS:
                yield _image_block(pending)
                pending = []
        if pending:
            yield _image_block(pending)

    return ImageRows(projection, head).fit(blocks())


def _image_block(rows: list[tuple]) -> ImageRowBlock:
    return ImageRowBlock(
        RowBlock([r[0] for r in rows], _unpack([bytes(r[2]) for r in rows]), [r[3:] for r in rows]),
        [r[1] for r in rows],
    )


def _unpack(raw: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), -1)


def _blocks(rows: Iterable[tuple], with_colours: bool) -> Iterator[RowBlock]:
    ids: list[int] = []
    raw: list[bytes] = []
    colours: list[bytes | None] = []
    attrs: list[tuple] = []

    def block() -> RowBlock:
        return RowBlock(list(ids), _unpack(raw), list(attrs), colours_decode(colours) if with_colours else None)

    for row in rows:
        ids.append(row[0])
        raw.append(bytes(row[1]))
        colours.append(row[2])
        attrs.append(row[3:])
        if len(raw) == BLOCK_ROWS:
            yield block()
            for pending in (ids, raw, colours, attrs):
                pending.clear()
    if raw:
        yield block()


def exact_index_read(projection: ProjectionData | None, head: ActiveHead | None) -> EmbeddingIndex:
    """The exact index over every searchable row, in this projection and head."""
    rows = embedding_rows().order_by("product_id").iterator(chunk_size=BLOCK_ROWS)
    return EmbeddingIndex(projection, head).fit(_blocks(rows, with_colours=head is not None))


def exact_index_load() -> tuple[EmbeddingIndex, int]:
    """The exact index as the site serves it (current projection and active head), with the
    change-log watermark it is complete up to (read first: later changes are applied again)."""
    watermark = latest_change_id()
    return exact_index_read(projection_current(), active_head_load()), watermark


def newest_ready_artifact() -> Any:
    from visualsearch.models import IndexArtifact

    return IndexArtifact.objects.filter(state=IndexArtifact.State.READY).order_by("-id").first()


def artifact_mismatch(meta: Mapping[str, Any], projection_id: int | None, head_id: int | None) -> str | None:
    """Why an artifact cannot be served with this model, projection and head (None: it can)."""
    if meta.get("model_version") != MODEL_VERSION:
        return f"model version {meta.get('model_version')!r}, serving {MODEL_VERSION!r}"
    if meta.get("projection_id") != projection_id:
        return f"projection {meta.get('projection_id')!r}, current {projection_id!r}"
    if meta.get("head_id") != head_id:
        return f"head {meta.get('head_id')!r}, active {head_id!r}"
    return None


@dataclass(frozen=True)
class IndexStatus:
    """What the metrics report of a process's index (reading it never loads or refreshes it)."""

    rows: int
    version: int  # content version, bumped on every load and applied refresh
    last_check: float  # time.monotonic() of the last look at the change log (0: never)
    artifact_version: int | None  # the FAISS artifact served (None: the exact index)
    uses_artifacts: bool
    # Per space of the FAISS artifact served: the lists a search probes, and the recall@5 its
    # build measured at the tuned count (None: an untuned artifact).
    nprobe: dict[str, int] = field(default_factory=dict)
    tuned_recall: dict[str, float | None] = field(default_factory=dict)


class LiveIndex:
    """The index this process serves (the SearchIndex protocol), loaded from the database."""

    def __init__(self, refresh_seconds: float | None = None, *, uses_artifacts: bool = False) -> None:
        self._lock = threading.RLock()
        self._refresh_seconds = refresh_seconds
        self.uses_artifacts = uses_artifacts  # serve the newest matching FAISS artifact
        self._index: EmbeddingIndex | FaissIndex = EmbeddingIndex()
        # The products' more images (photo search only), exact, beside either structure.
        self._images = ImageRows()
        self._loaded = False
        self._last_check = 0.0
        self._changes = ChangeLogReader()
        self._refused: int | None = None  # the artifact last refused (logged once)
        self._version = 0
        self.stats = {"full_loads": 0, "refreshes": 0, "rows_refreshed": 0, "late_changes": 0}
        if uses_artifacts:
            self.stats.update({"artifact_loads": 0, "artifact_refusals": 0})

    # --- loading ----------------------------------------------------------------------------

    @property
    def refresh_seconds(self) -> float:
        if self._refresh_seconds is not None:
            return self._refresh_seconds
        return float(vs_settings.INDEX_REFRESH_SECONDS)

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def structure(self) -> EmbeddingIndex | FaissIndex:
        """The data structure serving now (as last loaded: never refreshes)."""
        return self._index

    def status(self) -> IndexStatus:
        index = self._index
        if not isinstance(index, FaissIndex):
            return IndexStatus(len(index), self._version, self._last_check, None, self.uses_artifacts)
        spaces = {SPACE_RAW: False, **({SPACE_SIMILAR: True} if index.artifact.similar is not None else {})}
        tunings = {space: index.tuning(head_space=head) for space, head in spaces.items()}
        return IndexStatus(
            len(index),
            self._version,
            self._last_check,
            index.artifact_version,
            self.uses_artifacts,
            nprobe={space: index.nprobe(head_space=head) for space, head in spaces.items()},
            tuned_recall={space: t.recall if t is not None else None for space, t in tunings.items()},
        )

    def content_key(self) -> str:
        """Names what this index holds (refreshed first): the model, the artifact, the projection,
        the head and the change log applied. Processes holding the same content give the same
        key, so search results can be cached across processes under it
        (``visualsearch.query.cache``); any applied change gives a new one."""
        with self._lock:
            self.ensure_fresh()
            index = self._index
            artifact = index.artifact_version if isinstance(index, FaissIndex) else "exact"
            projection = index.projection.pk if index.projection else 0
            head = index.head.pk if index.head else 0
            return f"{index.model_version}:{artifact}:{projection}:{head}:{self._changes.position()}"

    def ensure_fresh(self) -> None:
        """Load on first use, then apply the change log when it is due."""
        with self._lock:
            if not self._loaded:
                self.load()
            elif time.monotonic() - self._last_check >= self.refresh_seconds:
                self.refresh()

    def load(self) -> None:
        """(Re)load the whole index: the newest matching artifact and the change log since its
        build (FAISS sites), else every row from the database."""
        with self._lock:
            if self.uses_artifacts and self._load_artifact():
                return
            index, watermark = exact_index_load()
            images = image_rows_read(index.projection, index.head)
            self._serve(index, watermark, images)
            self.stats["full_loads"] += 1

    def _serve(self, index: EmbeddingIndex | FaissIndex, watermark: int, images: ImageRows) -> None:
        self._index = index
        self._images = images
        self._changes.restart(watermark)
        self._loaded = True
        self._last_check = time.monotonic()
        self._version += 1

    def _map(self, row: Any) -> artifact_mod.MappedArtifact | None:
        current = self._index
        if isinstance(current, FaissIndex) and current.artifact_version == row.pk:
            return current.artifact
        try:
            directory = artifact_mod.fetch_to_cache(row.pk, row.path, vs_settings.ARTIFACT_CACHE_DIR)
            return artifact_mod.open_mapped(directory, row.pk)
        except artifact_mod.ArtifactFormatError as exc:
            if self._refused != row.pk:
                logger.warning("refusing index artifact v%s (%s): serving the exact index", row.pk, exc)
                self.stats["artifact_refusals"] += 1
            self._refused = row.pk
            return None
        except Exception:
            logger.exception("could not fetch or map index artifact v%s: serving the exact index", row.pk)
            return None

    def _load_artifact(self) -> bool:
        """Serve the newest ready artifact with the change log since its build applied; False
        when there is none, it does not match, or it is too far behind."""
        row = newest_ready_artifact()
        mapped = self._map(row) if row is not None else None
        if mapped is None:
            return False
        projection = projection_current()
        head = active_head_load()
        why = artifact_mismatch(mapped.meta, projection.pk if projection else None, head.pk if head else None)
        if why is None and row.created < timezone.now() - timedelta(hours=vs_settings.INDEX_CHANGE_RETENTION_HOURS):
            why = "older than the change log's retention: changes since its build may be pruned"
        if why is not None:
            if self._refused != mapped.version:
                logger.warning("refusing index artifact v%s (%s): serving the exact index", mapped.version, why)
                self.stats["artifact_refusals"] += 1
            self._refused = mapped.version
            return False
        self._changes.restart(int(mapped.meta["change_watermark"]))
        changes = self._changes.pending()
        if len(changes) >= FULL_RELOAD_AFTER:
            logger.warning(
                "index artifact v%s is %d+ changes behind: serving the exact index", mapped.version, len(changes)
            )
            return False
        self._index = FaissIndex(mapped, projection, head)
        # The artifact holds the more images too when the catalogue had any at its build: the
        # change log since then goes into their overlay. Without, they are read as they are
        # now (the change log is applied to them again below, harmlessly).
        if mapped.images is not None:
            self._images = ImageRows.from_artifact(mapped, projection, head)
        else:
            self._images = image_rows_read(projection, head)
        self._apply(changes)
        self._loaded = True
        self._last_check = time.monotonic()
        self._version += 1
        self.stats["artifact_loads"] += 1
        artifact_mod.prune_cache(vs_settings.ARTIFACT_CACHE_DIR, {mapped.version})
        return True

    def _reload_due(self, idle: float) -> bool:
        if idle > vs_settings.INDEX_CHANGE_RETENTION_HOURS * 3600 / 2:
            return True  # the change log may have been pruned past this process's watermark
        if self.uses_artifacts:
            row = newest_ready_artifact()
            serving = self._index.artifact_version if isinstance(self._index, FaissIndex) else None
            if serving is None and row is not None and row.pk != self._refused:
                return True  # an artifact to try
            if serving is not None and (row is None or row.pk != serving):
                return True
        projection = self._index.projection
        if projection_current_id() != (projection.pk if projection else None):
            return True
        head = self._index.head
        return active_head_id() != (head.pk if head else None)  # a new head: every row changes

    def refresh(self) -> None:
        """Apply the changes logged since the last look: O(changed rows)."""
        with self._lock:
            idle = time.monotonic() - self._last_check
            self._last_check = time.monotonic()
            if self._reload_due(idle):
                self.load()
                return
            changes = self._changes.pending()
            if not changes:
                self._changes.advance([])  # the reader still expires its gaps
                return
            if len(changes) >= FULL_RELOAD_AFTER:
                self.load()  # cheaper than applying them one by one
                return
            self._apply(changes)
            self._version += 1
            self.stats["refreshes"] += 1

    def _apply(self, changes: list[tuple[int, int]]) -> None:
        """Changed products: read again into the index, or removed from it."""
        changed = {pid for _id, pid in changes}
        present = set()
        index = self._index
        with_colours = index.head is not None
        if changed:
            for row in embedding_rows(changed):
                present.add(row[0])
                colour = colours_decode([row[2]])[0] if with_colours else None
                index.upsert(row[0], _unpack([bytes(row[1])])[0], row[3:], colour)
            for pid in changed - present:
                index.remove(pid)
            self._apply_images(changed)
        self._changes.advance([cid for cid, _pid in changes])
        self.stats["late_changes"] = self._changes.late_changes
        self.stats["rows_refreshed"] += len(changed)

    def _apply_images(self, changed: set[int]) -> None:
        """The changed products' more images, read again: each product's rows replaced."""
        by_product: dict[int, list[tuple[int, np.ndarray, Sequence[Any]]]] = {pid: [] for pid in changed}
        for row in image_embedding_rows(changed):
            by_product[row[1]].append((row[0], _unpack([bytes(row[2])])[0], row[3:]))
        for pid, rows in by_product.items():
            self._images.replace_product(pid, rows)

    # --- inspecting (refreshes first, like every search) ------------------------------------

    def __len__(self) -> int:
        with self._lock:
            self.ensure_fresh()
            return len(self._index)

    def __contains__(self, product_id: int) -> bool:
        with self._lock:
            self.ensure_fresh()
            return product_id in self._index

    @property
    def artifact_version(self) -> int | None:
        """The artifact served, None while the exact index serves."""
        with self._lock:
            self.ensure_fresh()
            index = self._index
            return index.artifact_version if isinstance(index, FaissIndex) else None

    @property
    def head_version(self) -> str | None:
        with self._lock:
            self.ensure_fresh()
            return self._index.head_version

    @property
    def photo_projection(self) -> PhotoProjection | None:
        with self._lock:
            self.ensure_fresh()
            return self._index.photo_projection

    def photo_rows(self, product_ids: Sequence[int]) -> np.ndarray | None:
        """The served index's learned-space rows of these products (``EmbeddingIndex.photo_rows``);
        None from a FAISS artifact, whose rows are approximate."""
        with self._lock:
            index = self._index
            return index.photo_rows(product_ids) if isinstance(index, EmbeddingIndex) else None

    @property
    def model_version(self) -> str:
        with self._lock:
            self.ensure_fresh()
            return self._index.model_version

    @property
    def dims(self) -> int:
        return self._index.dims

    @property
    def projected(self) -> bool:
        return self._index.projected

    @property
    def nbytes(self) -> int:
        return self._index.nbytes

    def memory_bytes(self) -> int:
        """The product index's memory and the more images' rows."""
        return self._index.memory_bytes() + self._images.memory_bytes()

    @property
    def images(self) -> ImageRows:
        """The more images' rows serving now (as last loaded: never refreshes)."""
        return self._images

    @property
    def image_rows(self) -> int:
        """How many more images photo search holds (as last loaded: never refreshes)."""
        return len(self._images)

    def images_of(self, product_id: int) -> list[int]:
        """The indexed more images of a product (image ids)."""
        with self._lock:
            self.ensure_fresh()
            return self._images.images_of(product_id)

    def mapped_bytes(self) -> int:
        """The artifact files mapped (products and more images; shared by a host's processes)."""
        index = self._index
        return index.mapped_bytes() if isinstance(index, FaissIndex) else 0

    def vector_of(self, product_id: int) -> np.ndarray:
        with self._lock:
            self.ensure_fresh()
            return self._index.vector_of(product_id)

    def attributes_of(self, product_id: int) -> dict[str, str]:
        with self._lock:
            self.ensure_fresh()
            return self._index.attributes_of(product_id)

    def filter_values(self) -> dict[str, list[str]]:
        with self._lock:
            self.ensure_fresh()
            return self._index.filter_values()

    # --- searching --------------------------------------------------------------------------

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        with self._lock:
            self.ensure_fresh()
            return self._index.project_query(vector)

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        with self._lock:
            self.ensure_fresh()
            return self._index.similar_to_product(product_id, k, filters)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        with self._lock:
            self.ensure_fresh()
            return self._index.similar_to_vector(vector, k, filters)

    def similar_images_to_vector(
        self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None
    ) -> list[ImageHit]:
        """The k more images nearest a raw query (photo search: ``ImageSearchIndex``)."""
        with self._lock:
            self.ensure_fresh()
            return self._images.similar_to_vector(vector, k, filters)


def index_for_class_path(path: str) -> SearchIndex:
    """The index VISUALSEARCH_INDEX_CLASS names: a ``LiveIndex`` serving the exact index
    (``EmbeddingIndex``) or FAISS artifacts (``FaissIndex``); any other class (e.g. the tests'
    brute-force index) is constructed as it is."""
    cls = import_string(path)
    if isinstance(cls, type) and issubclass(cls, FaissIndex):
        return LiveIndex(uses_artifacts=True)
    if isinstance(cls, type) and issubclass(cls, EmbeddingIndex):
        return LiveIndex()
    index: SearchIndex = cls()
    return index
