"""The in-memory search index: every active product's embedding in one matrix per process.

Loaded from PostgreSQL on first use, then kept fresh by polling the index change log
(only changed rows are read again). Search is exact: one matrix-vector product over the
L2-normalised rows and an argpartition, with refinement filters applied before ranking.

Vectors are stored projected to VISUALSEARCH_INDEX_DIMS dimensions with the shared PCA
projection (see projection.py) once one has been fitted, 2048-dim float32 before that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from visualsearch import projection as projection_mod
from visualsearch.models import IndexChange, ProductEmbedding

# Attributes a search can be restricted to (refinements), as stored per row.
FILTER_FIELDS = ("gender", "master_category", "sub_category", "article_type", "base_colour")
_FULL_RELOAD_AFTER = 20_000  # more pending changes than this: reload everything


class NotIndexed(LookupError):
    """The product has no embedding in the index (yet)."""


@dataclass(frozen=True)
class Hit:
    product_id: int
    score: float


class EmbeddingIndex:
    def __init__(self, refresh_seconds: float | None = None) -> None:
        self._lock = threading.RLock()
        self._refresh_seconds = refresh_seconds
        self._loaded = False
        self._last_check = 0.0
        self._watermark = 0
        self._projection: projection_mod.ProjectionData | None = None
        self._size = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._codes = {name: np.zeros(0, dtype=np.int32) for name in FILTER_FIELDS}
        self._vocab: dict[str, dict[str, int]] = {name: {} for name in FILTER_FIELDS}
        self._row_of: dict[int, int] = {}
        self.stats = {"full_loads": 0, "refreshes": 0, "rows_refreshed": 0}

    # --- loading ------------------------------------------------------------------------

    @property
    def refresh_seconds(self) -> float:
        if self._refresh_seconds is not None:
            return self._refresh_seconds
        return float(settings.VISUALSEARCH_INDEX_REFRESH_SECONDS)

    def ensure_fresh(self) -> None:
        with self._lock:
            if not self._loaded:
                self.load()
            elif time.monotonic() - self._last_check >= self.refresh_seconds:
                self.refresh()

    def _rows(self, product_ids: Iterable[int] | None = None):
        from visualsearch.embedder import MODEL_VERSION

        rows = ProductEmbedding.objects.filter(
            product__is_active=True, vector__isnull=False, model_version=MODEL_VERSION
        )
        if product_ids is not None:
            rows = rows.filter(product_id__in=list(product_ids))
        return rows.values_list("product_id", "vector", *(f"product__{name}" for name in FILTER_FIELDS))

    def load(self) -> None:
        """(Re)load the whole index from the database."""
        with self._lock:
            # Read the watermark first: changes made during the load are applied again later.
            watermark = IndexChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
            self._projection = projection_mod.projection_current()
            ids: list[int] = []
            attrs: list[tuple] = []
            blocks: list[np.ndarray] = []
            raw: list[bytes] = []
            for row in self._rows().order_by("product_id").iterator(chunk_size=2000):
                ids.append(row[0])
                raw.append(bytes(row[1]))
                attrs.append(row[2:])
                if len(raw) == 2000:
                    blocks.append(self._project(raw))
                    raw = []
            if raw:
                blocks.append(self._project(raw))
            dims = self._dims()
            self._matrix = np.vstack(blocks) if blocks else np.zeros((0, dims), dtype=np.float32)
            self._ids = np.asarray(ids, dtype=np.int64)
            self._size = len(ids)
            self._vocab = {name: {} for name in FILTER_FIELDS}
            self._codes = {
                name: np.asarray([self._code(name, a[i]) for a in attrs], dtype=np.int32)
                for i, name in enumerate(FILTER_FIELDS)
            }
            self._row_of = {pid: i for i, pid in enumerate(ids)}
            self._watermark = watermark
            self._loaded = True
            self._last_check = time.monotonic()
            self.stats["full_loads"] += 1

    def refresh(self) -> None:
        """Apply the changes logged since the last look: O(changed rows)."""
        with self._lock:
            self._last_check = time.monotonic()
            latest = projection_mod.projection_current_id()
            if latest != (self._projection.pk if self._projection else None):
                self.load()
                return
            changes = list(
                IndexChange.objects.filter(id__gt=self._watermark)
                .order_by("id")
                .values_list("id", "product_id")[:_FULL_RELOAD_AFTER]
            )
            if not changes:
                return
            if len(changes) >= _FULL_RELOAD_AFTER:
                self.load()
                return
            changed = {pid for _id, pid in changes}
            present = set()
            for row in self._rows(changed):
                present.add(row[0])
                self._upsert(row[0], self._project([bytes(row[1])])[0], row[2:])
            for pid in changed - present:
                self._remove(pid)
            self._watermark = changes[-1][0]
            self.stats["refreshes"] += 1
            self.stats["rows_refreshed"] += len(changed)

    def _dims(self) -> int:
        return self._projection.dims if self._projection else 2048

    def _project(self, raw: list[bytes]) -> np.ndarray:
        vectors = np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), -1)
        if self._projection is not None:
            vectors = self._projection.apply(vectors)
        else:
            vectors = vectors.astype(np.float32, copy=True)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _code(self, name: str, value: str) -> int:
        vocab = self._vocab[name]
        return vocab.setdefault(value, len(vocab))

    def _upsert(self, product_id: int, vector: np.ndarray, attrs: tuple) -> None:
        row = self._row_of.get(product_id)
        if row is None:
            if self._size == len(self._ids):
                self._grow()
            row = self._size
            self._size += 1
            self._row_of[product_id] = row
            self._ids[row] = product_id
        self._matrix[row] = vector
        for name, value in zip(FILTER_FIELDS, attrs, strict=True):
            self._codes[name][row] = self._code(name, value)

    def _grow(self) -> None:
        capacity = max(16, int(len(self._ids) * 1.25) + 16)
        matrix = np.zeros((capacity, self._dims()), dtype=np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        self._matrix = matrix
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
            for name in FILTER_FIELDS:
                self._codes[name][row] = self._codes[name][last]
            self._row_of[moved] = row
        self._size = last

    # --- searching ----------------------------------------------------------------------

    def __len__(self) -> int:
        self.ensure_fresh()
        return self._size

    def __contains__(self, product_id: int) -> bool:
        self.ensure_fresh()
        return product_id in self._row_of

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (capacity included)."""
        return int(self._matrix.nbytes + self._ids.nbytes + sum(c.nbytes for c in self._codes.values()))

    def attributes_of(self, product_id: int) -> dict[str, str]:
        with self._lock:
            self.ensure_fresh()
            row = self._row_of.get(product_id)
            if row is None:
                raise NotIndexed(product_id)
            inverse = {name: {code: value for value, code in self._vocab[name].items()} for name in FILTER_FIELDS}
            return {name: inverse[name][int(self._codes[name][row])] for name in FILTER_FIELDS}

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        """A raw 2048-dim query embedding in the index's space, normalised."""
        with self._lock:
            self.ensure_fresh()
            return self._project([np.asarray(vector, dtype="<f4").tobytes()])[0]

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, str] | None = None) -> list[Hit]:
        """The k products most similar to an indexed product, never the product itself."""
        with self._lock:
            self.ensure_fresh()
            row = self._row_of.get(product_id)
            if row is None:
                raise NotIndexed(product_id)
            query = self._matrix[row].copy()
            return self._search(query, k, filters or {}, exclude_row=row)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, str] | None = None) -> list[Hit]:
        """The k products most similar to a raw (2048-dim) query embedding."""
        with self._lock:
            query = self.project_query(vector)
            return self._search(query, k, filters or {}, exclude_row=None)

    def _search(self, query: np.ndarray, k: int, filters: Mapping[str, str], exclude_row: int | None) -> list[Hit]:
        n = self._size
        if n == 0 or k <= 0:
            return []
        scores = self._matrix[:n] @ query
        eligible = None
        for name, value in filters.items():
            code = self._vocab[name].get(value)
            if code is None:
                return []
            mask = self._codes[name][:n] == code
            eligible = mask if eligible is None else eligible & mask
        if eligible is not None:
            scores = np.where(eligible, scores, -np.inf)
        if exclude_row is not None:
            scores[exclude_row] = -np.inf
        available = n if eligible is None else int(eligible.sum())
        if exclude_row is not None and (eligible is None or eligible[exclude_row]):
            available -= 1
        k = min(k, available)
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(int(self._ids[i]), float(scores[i])) for i in top]


_index: EmbeddingIndex | None = None
_index_lock = threading.Lock()


def get_index() -> EmbeddingIndex:
    """This process's index (created on first use, loaded on first search)."""
    global _index
    if _index is None:
        with _index_lock:
            if _index is None:
                _index = EmbeddingIndex()
    return _index


def reset_index() -> None:
    global _index
    with _index_lock:
        _index = None
