"""The in-memory search index: every active product's embedding in one matrix per process.

Loaded from PostgreSQL on first use, then kept fresh by polling the index change log
(only changed rows are read again). Search is exact over the stored vectors: one
matrix-vector product over the L2-normalised rows and an argpartition, with refinement
filters applied as masks before ranking.

Vectors are stored projected to VISUALSEARCH_INDEX_DIMS dimensions with the shared PCA
projection (see projection.py) once one has been fitted, 2048-dim float32 before that.
With a projection the index ranks candidates; ``visualsearch.search`` re-scores them
with the full vectors, so the final order is the exact 2048-dim one.

Two rankings: photo search ranks by that matrix (a photo of a catalogue product must find
that very product), in photo search's learned space instead of the PCA projection when the
active head carries one (visualsearch.ml.photo_projection); "find similar" ranks by a
second matrix, the active similarity head (visualsearch.ml.head, services/heads.py)
applied at load to each stored vector and colour descriptor: ``[head embedding,
sqrt(w) × colour probabilities]``, exact (no re-rank).
Without an active head (an unlabelled catalogue, or VISUALSEARCH_HEAD_ENABLED off) find
similar ranks by the raw vectors as before. A change of the active head reloads the index,
so the index and its queries always use one head version (``model_version``).

The change log is read by ``changelog.ChangeLogReader``, which also catches changes that
commit late (out of id order).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS, STOCK_FIELD
from shop.selectors import product_in_stock_expression
from visualsearch.conf import vs_settings
from visualsearch.index import projection as projection_mod
from visualsearch.index.base import FULL_DIMS, Hit, NotIndexed
from visualsearch.index.changelog import FULL_RELOAD_AFTER, ChangeLogReader, latest_change_id
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.ml.head import SimilarityModel
from visualsearch.ml.photo_projection import PhotoProjection
from visualsearch.models import ProductEmbedding

# Every field a search can be restricted to: the searchable attributes, and stock.
FILTER_FIELDS = (*SEARCHABLE_FIELDS, STOCK_FIELD)

_LOAD_CHUNK = 2000
# seed_synthetic_embeddings' random vectors (load tests) carry this version: the index
# serves them only with VISUALSEARCH_INDEX_SYNTHETIC, and `reindex --missing` replaces them.
SYNTHETIC_MODEL_VERSION = f"{MODEL_VERSION}+synthetic"


def served_model_versions() -> list[str]:
    """The model versions whose vectors the index serves."""
    return [MODEL_VERSION, SYNTHETIC_MODEL_VERSION] if vs_settings.INDEX_SYNTHETIC else [MODEL_VERSION]


@dataclass(frozen=True)
class ActiveHead:
    pk: int
    model: SimilarityModel

    @property
    def version(self) -> str:
        return f"head-v{self.pk}"


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


def _colours(raw: Sequence[bytes | memoryview | None]) -> np.ndarray:
    """Stored colour descriptors as (N, 196) float32; NaN rows where none is stored."""
    out = np.full((len(raw), colour_mod.COLOUR_DIM), np.nan, np.float32)
    for i, data in enumerate(raw):
        colour = colour_mod.from_bytes(data)
        if colour is not None:
            out[i] = colour
    return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingIndex:
    def __init__(self, refresh_seconds: float | None = None) -> None:
        self._lock = threading.RLock()
        self._refresh_seconds = refresh_seconds
        self._static = False  # built from arrays: never reads the database
        self._loaded = False
        self._last_check = 0.0
        self._changes = ChangeLogReader()
        self._projection: projection_mod.ProjectionData | None = None
        self._size = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, FULL_DIMS), dtype=np.float32)
        self._head: ActiveHead | None = None
        self._similar = np.zeros((0, 0), dtype=np.float32)  # find-similar rows (with a head)
        self._codes = {name: np.zeros(0, dtype=np.int32) for name in FILTER_FIELDS}
        self._vocab: dict[str, dict[object, int]] = {name: {} for name in FILTER_FIELDS}
        self._values: dict[str, list[str]] = {name: [] for name in FILTER_FIELDS}  # code → value
        self._row_of: dict[int, int] = {}
        self._version = 0  # bumped on every change of the contents
        self._filter_values_cache: tuple[int, dict[str, list[str]]] | None = None
        self.stats = {"full_loads": 0, "refreshes": 0, "rows_refreshed": 0, "late_changes": 0}

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        attributes: Mapping[str, Sequence[str]] | None = None,
        projection: projection_mod.ProjectionData | None = None,
        *,
        colours: np.ndarray | None = None,
        head: SimilarityModel | None = None,
        head_pk: int = 0,
    ) -> EmbeddingIndex:
        """A static index over raw (N, 2048) vectors, for benchmarks and experiments.

        It never reads the database: nothing is stored and no refresh happens.
        ``attributes`` maps filter fields to one value per row (missing fields are "").
        ``head`` (with ``colours``, (N, 196), NaN rows for none) ranks find similar.
        """
        index = cls()
        index._static = True
        index._projection = projection
        index._head = ActiveHead(head_pk, head) if head is not None else None
        count = len(ids)
        index._matrix = np.empty((count, index._dims()), dtype=np.float32)
        index._similar = np.empty((count, index._similar_dims()), dtype=np.float32)
        if colours is None:
            colours = np.full((count, colour_mod.COLOUR_DIM), np.nan, np.float32)
        for start in range(0, count, _LOAD_CHUNK):
            block = np.asarray(vectors[start : start + _LOAD_CHUNK], dtype=np.float32)
            index._matrix[start : start + _LOAD_CHUNK] = index._project_array(block)
            if index._head is not None:
                index._similar[start : start + _LOAD_CHUNK] = index._head.model.similar_vectors(
                    block, colours[start : start + _LOAD_CHUNK]
                )
        index._ids = np.asarray(ids, dtype=np.int64).copy()
        index._size = count
        attributes = attributes or {}
        for name in FILTER_FIELDS:
            values = attributes.get(name) or [""] * count
            index._codes[name] = np.asarray([index._code(name, v) for v in values], dtype=np.int32)
        index._row_of = {int(pid): row for row, pid in enumerate(index._ids)}
        index._loaded = True
        index._version += 1
        return index

    # --- loading ------------------------------------------------------------------------

    @property
    def refresh_seconds(self) -> float:
        if self._refresh_seconds is not None:
            return self._refresh_seconds
        return float(vs_settings.INDEX_REFRESH_SECONDS)

    def ensure_fresh(self) -> None:
        if self._static:
            return
        with self._lock:
            if not self._loaded:
                self.load()
            elif time.monotonic() - self._last_check >= self.refresh_seconds:
                self.refresh()

    def _rows(self, product_ids: Iterable[int] | None = None):
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

    def load(self) -> None:
        """(Re)load the whole index from the database."""
        with self._lock:
            # Read the watermark first: changes made during the load are applied again later.
            watermark = latest_change_id()
            self._projection = projection_mod.projection_current()
            self._head = active_head_load()
            ids: list[int] = []
            attrs: list[tuple] = []
            blocks: list[np.ndarray] = []
            similar: list[np.ndarray] = []
            raw: list[bytes] = []
            colours: list[bytes | None] = []

            def flush() -> None:
                vectors = self._unpack(raw)
                blocks.append(self._project_array(vectors))
                if self._head is not None:
                    similar.append(self._head.model.similar_vectors(vectors, _colours(colours)))
                raw.clear()
                colours.clear()

            for row in self._rows().order_by("product_id").iterator(chunk_size=_LOAD_CHUNK):
                ids.append(row[0])
                raw.append(bytes(row[1]))
                colours.append(row[2])
                attrs.append(row[3:])
                if len(raw) == _LOAD_CHUNK:
                    flush()
            if raw:
                flush()
            self._matrix = np.vstack(blocks) if blocks else np.zeros((0, self._dims()), dtype=np.float32)
            self._similar = (
                np.vstack(similar) if similar else np.zeros((len(ids), self._similar_dims()), dtype=np.float32)
            )
            self._ids = np.asarray(ids, dtype=np.int64)
            self._size = len(ids)
            self._vocab = {name: {} for name in FILTER_FIELDS}
            self._values = {name: [] for name in FILTER_FIELDS}
            self._codes = {
                name: np.asarray([self._code(name, a[i]) for a in attrs], dtype=np.int32)
                for i, name in enumerate(FILTER_FIELDS)
            }
            self._row_of = {pid: i for i, pid in enumerate(ids)}
            self._changes.restart(watermark)
            self._loaded = True
            self._last_check = time.monotonic()
            self._version += 1
            self.stats["full_loads"] += 1

    def _changes_to_apply(self) -> list[tuple[int, int]] | None:
        """The logged changes to apply now, or None when there is nothing to do: none
        pending (the reader still expires its gaps), or so many that a full load was cheaper
        and has been done. Call with the lock held."""
        changes = self._changes.pending()
        if not changes:
            self._changes.advance([])
            return None
        if len(changes) >= FULL_RELOAD_AFTER:
            self.load()
            return None
        return changes

    def refresh(self) -> None:
        """Apply the changes logged since the last look: O(changed rows)."""
        if self._static:
            return
        with self._lock:
            idle = time.monotonic() - self._last_check
            self._last_check = time.monotonic()
            if idle > vs_settings.INDEX_CHANGE_RETENTION_HOURS * 3600 / 2:
                self.load()  # the change log may have been pruned past this process's watermark
                return
            latest = projection_mod.projection_current_id()
            if latest != (self._projection.pk if self._projection else None):
                self.load()
                return
            if active_head_id() != (self._head.pk if self._head else None):
                self.load()  # a new head (trained, activated, rolled back): every row changes
                return
            changes = self._changes_to_apply()
            if changes is None:
                return
            changed = {pid for _id, pid in changes}
            present = set()
            for row in self._rows(changed):
                present.add(row[0])
                vectors = self._unpack([bytes(row[1])])
                similar = (
                    self._head.model.similar_vectors(vectors, _colours([row[2]]))[0] if self._head is not None else None
                )
                self._upsert(row[0], self._project_array(vectors)[0], row[3:], similar)
            for pid in changed - present:
                self._remove(pid)
            self._changes.advance([cid for cid, _pid in changes])
            self.stats["late_changes"] = self._changes.late_changes
            self._version += 1
            self.stats["refreshes"] += 1
            self.stats["rows_refreshed"] += len(changed)

    def _dims(self) -> int:
        photo = self._photo_projection()
        if photo is not None:
            return photo.dims
        return self._projection.dims if self._projection else FULL_DIMS

    def _similar_dims(self) -> int:
        return self._head.model.dims if self._head is not None else 0

    @staticmethod
    def _unpack(raw: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), -1)

    def _project_array(self, vectors: np.ndarray) -> np.ndarray:
        """Raw (N, 2048) vectors in the index's space, unit rows: photo search's learned space
        when the active head has one, else PCA-projected if there is a projection."""
        vectors = np.asarray(vectors, dtype=np.float32)
        photo = self._photo_projection()
        if photo is not None:
            return photo.apply(vectors)
        if self._projection is not None:
            vectors = self._projection.apply(vectors)
        if not np.isfinite(vectors).all():  # a corrupt vector must not rank first (NaN sorts last)
            vectors = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
        return _normalise(vectors)

    def _project(self, raw: list[bytes]) -> np.ndarray:
        return self._project_array(np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), -1))

    def _code(self, name: str, value: str) -> int:
        vocab = self._vocab[name]
        code = vocab.get(value)
        if code is None:
            code = vocab[value] = len(self._values[name])
            self._values[name].append(value)
        return code

    def _upsert(self, product_id: int, vector: np.ndarray, attrs: tuple, similar: np.ndarray | None = None) -> None:
        row = self._row_of.get(product_id)
        if row is None:
            if self._size == len(self._ids):
                self._grow()
            row = self._size
            self._size += 1
            self._row_of[product_id] = row
            self._ids[row] = product_id
        self._matrix[row] = vector
        if similar is not None:
            self._similar[row] = similar
        for name, value in zip(FILTER_FIELDS, attrs, strict=True):
            self._codes[name][row] = self._code(name, value)

    def _grow(self) -> None:
        capacity = max(16, int(len(self._ids) * 1.25) + 16)
        matrix = np.zeros((capacity, self._dims()), dtype=np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        self._matrix = matrix
        similar = np.zeros((capacity, self._similar_dims()), dtype=np.float32)
        similar[: self._size] = self._similar[: self._size]
        self._similar = similar
        ids = np.zeros(capacity, dtype=np.int64)
        ids[: self._size] = self._ids[: self._size]
        self._ids = ids
        for name in FILTER_FIELDS:
            codes = np.zeros(capacity, dtype=np.int32)
            codes[: self._size] = self._codes[name][: self._size]
            self._codes[name] = codes

    def _remove(self, product_id: int) -> None:
        row = self._row_of.pop(product_id, None)
        if row is None:
            return
        last = self._size - 1
        if row != last:  # move the last row into the hole
            moved = int(self._ids[last])
            self._ids[row] = moved
            self._matrix[row] = self._matrix[last]
            self._similar[row] = self._similar[last]
            for name in FILTER_FIELDS:
                self._codes[name][row] = self._codes[name][last]
            self._row_of[moved] = row
        self._size = last

    # --- inspecting ---------------------------------------------------------------------

    def __len__(self) -> int:
        self.ensure_fresh()
        return self._size

    def __contains__(self, product_id: int) -> bool:
        self.ensure_fresh()
        return product_id in self._row_of

    @property
    def dims(self) -> int:
        """Dimensions of the stored vectors: the projection's, or 2048 without one."""
        return self._dims()

    @property
    def projected(self) -> bool:
        """Whether vectors are stored PCA-projected (then the full vectors re-rank)."""
        return self._projection is not None

    @property
    def head_version(self) -> str | None:
        """The similarity head "find similar" ranks by ("head-v3"), None for the raw vectors
        (refreshes first, like every search)."""
        self.ensure_fresh()
        head = self._head
        return head.version if head is not None else None

    @property
    def photo_projection(self) -> PhotoProjection | None:
        """Photo search's learned space of the active head, if it has one (refreshes first)."""
        with self._lock:
            self.ensure_fresh()
            return self._photo_projection()

    def _photo_projection(self) -> PhotoProjection | None:
        head = self._head
        return head.model.photo if head is not None else None

    @property
    def model_version(self) -> str:
        """What ranks the results: the backbone, plus the head find similar uses."""
        head = self.head_version
        return f"{MODEL_VERSION}+{head}" if head else MODEL_VERSION

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (capacity included), its projection and head."""
        arrays = self._matrix.nbytes + self._similar.nbytes + self._ids.nbytes
        arrays += sum(c.nbytes for c in self._codes.values())
        if self._projection is not None:
            arrays += self._projection.mean.nbytes + self._projection.components.nbytes
        if self._head is not None:
            arrays += self._head.model.nbytes
        return int(arrays)

    def memory_bytes(self) -> int:
        """``nbytes`` plus an estimate of the Python objects (id → row dictionary, vocabularies)."""
        row_of = sys.getsizeof(self._row_of) + sum(sys.getsizeof(k) for k in self._row_of)
        row_of += sum(sys.getsizeof(v) for v in self._row_of.values() if v > 256)
        vocab = sum(sys.getsizeof(d) + sum(sys.getsizeof(v) for v in d) for d in self._vocab.values())
        return self.nbytes + row_of + vocab

    def vector_of(self, product_id: int) -> np.ndarray:
        """A copy of the stored (projected, normalised) vector of an indexed product."""
        with self._lock:
            self.ensure_fresh()
            row = self._row_of.get(product_id)
            if row is None:
                raise NotIndexed(product_id)
            return self._matrix[row].copy()

    def attributes_of(self, product_id: int) -> dict[str, str]:
        with self._lock:
            self.ensure_fresh()
            row = self._row_of.get(product_id)
            if row is None:
                raise NotIndexed(product_id)
            return {name: self._values[name][int(self._codes[name][row])] for name in FILTER_FIELDS}

    def filter_values(self) -> dict[str, list[str]]:
        """For each filter field, the non-empty values some indexed product has, sorted."""
        with self._lock:
            self.ensure_fresh()
            cached = self._filter_values_cache
            if cached is not None and cached[0] == self._version:
                return cached[1]
            values = {}
            for name in FILTER_FIELDS:
                codes = np.unique(self._codes[name][: self._size])
                values[name] = sorted(v for v in (self._values[name][int(c)] for c in codes) if v)
            self._filter_values_cache = (self._version, values)
            return values

    # --- searching ----------------------------------------------------------------------

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        """A raw 2048-dim query embedding in the index's space, normalised."""
        with self._lock:
            self.ensure_fresh()
            return self._project_array(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to an indexed product, never the product itself."""
        with self._lock:
            self.ensure_fresh()
            row = self._row_of.get(product_id)
            if row is None:
                raise NotIndexed(product_id)
            if self._head is not None:
                return self._search(self._similar[row].copy(), k, filters or {}, exclude_row=row, matrix=self._similar)
            query = self._matrix[row].copy()
            return self._search(query, k, filters or {}, exclude_row=row)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to a raw (2048-dim) query embedding."""
        with self._lock:
            query = self.project_query(vector)
            return self._search(query, k, filters or {}, exclude_row=None)

    def _blocked(self, filters: Mapping[str, object], n: int) -> np.ndarray | None:
        """Rows the filters rule out (None: no filter); raises LookupError for an unknown value."""
        blocked = None
        for name, value in filters.items():
            code = self._vocab[name].get(value)
            if code is None:
                raise LookupError(value)
            mismatch = self._codes[name][:n] != code
            blocked = mismatch if blocked is None else np.logical_or(blocked, mismatch, out=blocked)
        return blocked

    def _search(
        self,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, object],
        exclude_row: int | None,
        matrix: np.ndarray | None = None,
    ) -> list[Hit]:
        n = self._size
        if n == 0 or k <= 0:
            return []
        try:
            blocked = self._blocked(filters, n)
        except LookupError:
            return []
        scores = (self._matrix if matrix is None else matrix)[:n] @ query
        available = n
        if blocked is not None:
            scores[blocked] = -np.inf
            available -= int(np.count_nonzero(blocked))
        if exclude_row is not None and np.isfinite(scores[exclude_row]):
            scores[exclude_row] = -np.inf
            available -= 1
        k = min(k, available)
        if k <= 0:
            return []
        top = np.argpartition(scores, n - k)[n - k :]
        top = top[np.argsort(-scores[top], kind="stable")]
        ids = self._ids[top].tolist()
        return [Hit(pid, float(score)) for pid, score in zip(ids, scores[top].tolist(), strict=True)]
