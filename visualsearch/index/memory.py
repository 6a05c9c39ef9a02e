"""The exact in-memory index: product embeddings in one matrix, searched exactly.

A data structure: built from arrays (``from_arrays``, or ``fit`` over blocks of rows), changed
row by row (``upsert``, ``remove``), and searched; it never reads the database.
``visualsearch.index.loading`` fills it from PostgreSQL and keeps it fresh from the change log.
Search is one matrix-vector product over the L2-normalised rows and an argpartition, with
refinement filters applied as masks before ranking.

Vectors are stored projected with a fitted PCA projection (visualsearch.index.projection)
when one is given, 2048-dim float32 otherwise. With a projection the index ranks
candidates; ``visualsearch.query.ranking`` re-scores them with the full vectors, so the final order
is the exact 2048-dim one.

Two rankings: photo search ranks by that matrix (a photo of a catalogue product must find
that very product), in photo search's learned space instead of the PCA projection when the
head carries one (visualsearch.ml.photo_projection); "find similar" ranks by a second matrix,
the similarity head (visualsearch.ml.head, services/heads.py) applied to each vector and
colour descriptor: ``[head embedding, sqrt(w) × colour probabilities]``, exact (no re-rank).
Without a head find similar ranks by the raw vectors. One index holds one head version
(``model_version``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS, STOCK_FIELD
from visualsearch.index.base import FULL_DIMS, Hit, NotIndexed
from visualsearch.index.projection import ProjectionData
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.ml.head import SimilarityModel
from visualsearch.ml.photo_projection import PhotoProjection

# Every field a search can be restricted to: the searchable attributes, and stock.
FILTER_FIELDS = (*SEARCHABLE_FIELDS, STOCK_FIELD)

BLOCK_ROWS = 2000  # rows projected at a time when building


@dataclass(frozen=True)
class ActiveHead:
    pk: int
    model: SimilarityModel

    @property
    def version(self) -> str:
        return f"head-v{self.pk}"


@dataclass(frozen=True)
class RowBlock:
    """Rows to build an index from: raw (n, 2048) vectors, one attribute tuple per row (in
    ``FILTER_FIELDS`` order) and colour descriptors ((n, 196), NaN rows for none)."""

    ids: Sequence[int] | np.ndarray
    vectors: np.ndarray
    attributes: Sequence[Sequence[Any]]
    colours: np.ndarray | None = None


@dataclass(frozen=True)
class IndexArrays:
    """An index's rows sorted by product id, for the FAISS artifact build."""

    ids: np.ndarray  # (rows,) int64
    matrix: np.ndarray  # (rows, dims) the photo-search / raw space
    similar: np.ndarray | None  # (rows, head dims) find similar's space, with a head
    codes: np.ndarray  # (fields, rows) int32 attribute codes, FILTER_FIELDS order
    values: dict[str, list[str]]  # each field's code → value


def no_colours(rows: int) -> np.ndarray:
    return np.full((rows, colour_mod.COLOUR_DIM), np.nan, np.float32)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingIndex:
    def __init__(
        self, projection: ProjectionData | None = None, head: ActiveHead | None = None, *, similar_space: bool = True
    ) -> None:
        """``similar_space=False``: photo search's rows only (a product's more images), no
        find-similar matrix even with a head (the head's photo space still applies)."""
        self._projection = projection
        self._head = head
        self._similar_space = similar_space and head is not None
        self._size = 0
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, self._dims()), dtype=np.float32)
        self._similar = np.zeros((0, self._similar_dims()), dtype=np.float32)  # find-similar rows (with a head)
        self._codes = {name: np.zeros(0, dtype=np.int32) for name in FILTER_FIELDS}
        self._vocab: dict[str, dict[object, int]] = {name: {} for name in FILTER_FIELDS}
        self._values: dict[str, list[str]] = {name: [] for name in FILTER_FIELDS}  # code → value
        self._row_of: dict[int, int] = {}
        self._version = 0  # bumped on every change of the contents
        self._filter_values_cache: tuple[int, dict[str, list[str]]] | None = None

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        attributes: Mapping[str, Sequence[str]] | None = None,
        projection: ProjectionData | None = None,
        *,
        colours: np.ndarray | None = None,
        head: SimilarityModel | None = None,
        head_pk: int = 0,
    ) -> EmbeddingIndex:
        """An index over raw (N, 2048) vectors.

        ``attributes`` maps filter fields to one value per row (missing fields are "").
        ``head`` (with ``colours``, (N, 196), NaN rows for none) ranks find similar.
        """
        count = len(ids)
        attributes = attributes or {}
        columns = [attributes.get(name) or [""] * count for name in FILTER_FIELDS]
        rows = list(zip(*columns, strict=True)) if count else []
        if colours is None:
            colours = no_colours(count)
        blocks = (
            RowBlock(
                ids[start : start + BLOCK_ROWS],
                np.asarray(vectors[start : start + BLOCK_ROWS], dtype=np.float32),
                rows[start : start + BLOCK_ROWS],
                colours[start : start + BLOCK_ROWS],
            )
            for start in range(0, count, BLOCK_ROWS)
        )
        index = cls(projection, ActiveHead(head_pk, head) if head is not None else None)
        return index.fit(blocks)

    def fit(self, blocks: Iterable[RowBlock]) -> EmbeddingIndex:
        """(Re)build the index from blocks of rows (each projected as it comes); returns it."""
        ids: list[int] = []
        attrs: list[Sequence[Any]] = []
        matrices: list[np.ndarray] = []
        similar: list[np.ndarray] = []
        for block in blocks:
            ids.extend(int(pid) for pid in block.ids)
            attrs.extend(block.attributes)
            matrices.append(self.project(block.vectors))
            if self._head is not None and self._similar_space:
                colours = block.colours if block.colours is not None else no_colours(len(block.ids))
                similar.append(self._head.model.similar_vectors(block.vectors, colours))
        self._matrix = np.vstack(matrices) if matrices else np.zeros((0, self._dims()), dtype=np.float32)
        self._similar = np.vstack(similar) if similar else np.zeros((len(ids), self._similar_dims()), dtype=np.float32)
        self._ids = np.asarray(ids, dtype=np.int64)
        self._size = len(ids)
        self._vocab = {name: {} for name in FILTER_FIELDS}
        self._values = {name: [] for name in FILTER_FIELDS}
        self._codes = {
            name: np.asarray([self._code(name, a[i]) for a in attrs], dtype=np.int32)
            for i, name in enumerate(FILTER_FIELDS)
        }
        self._row_of = {pid: i for i, pid in enumerate(ids)}
        self._version += 1
        return self

    def ensure_fresh(self) -> None:
        """Nothing to do: a data structure changes only when told (the SearchIndex protocol)."""

    # --- changing ---------------------------------------------------------------------------

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Raw (N, 2048) vectors in the index's space, unit rows: photo search's learned space
        when the head has one, else PCA-projected if there is a projection."""
        vectors = np.asarray(vectors, dtype=np.float32)
        photo = self._photo_projection()
        if photo is not None:
            return photo.apply(vectors)
        if self._projection is not None:
            vectors = self._projection.apply(vectors)
        if not np.isfinite(vectors).all():  # a corrupt vector must not rank first (NaN sorts last)
            vectors = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
        return _normalise(vectors)

    def upsert(
        self, product_id: int, vector: np.ndarray, attributes: Sequence[Any], colour: np.ndarray | None = None
    ) -> None:
        """Add or replace a product: its raw (2048,) vector, attributes (``FILTER_FIELDS``
        order) and colour descriptor (None: none stored)."""
        raw = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        similar = None
        if self._head is not None and self._similar_space:
            colours = no_colours(1) if colour is None else np.asarray(colour, np.float32).reshape(1, -1)
            similar = self._head.model.similar_vectors(raw, colours)[0]
        row = self._row_of.get(product_id)
        if row is None:
            if self._size == len(self._ids):
                self._grow()
            row = self._size
            self._size += 1
            self._row_of[product_id] = row
            self._ids[row] = product_id
        self._matrix[row] = self.project(raw)[0]
        if similar is not None:
            self._similar[row] = similar
        for name, value in zip(FILTER_FIELDS, attributes, strict=True):
            self._codes[name][row] = self._code(name, value)
        self._version += 1

    def remove(self, product_id: int) -> None:
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
        self._version += 1

    def _code(self, name: str, value: str) -> int:
        vocab = self._vocab[name]
        code = vocab.get(value)
        if code is None:
            code = vocab[value] = len(self._values[name])
            self._values[name].append(value)
        return code

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

    # --- inspecting -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._row_of

    def _dims(self) -> int:
        photo = self._photo_projection()
        if photo is not None:
            return photo.dims
        return self._projection.dims if self._projection else FULL_DIMS

    def _similar_dims(self) -> int:
        return self._head.model.dims if self._head is not None and self._similar_space else 0

    @property
    def dims(self) -> int:
        """Dimensions of the stored vectors: the projection's, or 2048 without one."""
        return self._dims()

    @property
    def projection(self) -> ProjectionData | None:
        return self._projection

    @property
    def head(self) -> ActiveHead | None:
        return self._head

    @property
    def projected(self) -> bool:
        """Whether vectors are stored PCA-projected (then the full vectors re-rank)."""
        return self._projection is not None

    @property
    def head_version(self) -> str | None:
        """The similarity head "find similar" ranks by ("head-v3"), None for the raw vectors."""
        return self._head.version if self._head is not None else None

    @property
    def photo_projection(self) -> PhotoProjection | None:
        """Photo search's learned space of the head, if it has one."""
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

    def vector_of(self, product_id: int, *, head_space: bool = False) -> np.ndarray:
        """A copy of the stored vector of an indexed product: projected and normalised, or
        its find-similar (head) vector."""
        row = self._row_of.get(product_id)
        if row is None:
            raise NotIndexed(product_id)
        return (self._similar if head_space else self._matrix)[row].copy()

    def photo_rows(self, product_ids: Sequence[int]) -> np.ndarray | None:
        """The rows of these products (copies, in order) when they are photo search's learned
        space (the head has a photo space: each row is ``PhotoProjection.apply`` of the stored
        vector, what photo search's ranking would compute) and every product is indexed; else
        None."""
        if self._photo_projection() is None:
            return None
        rows = [self._row_of.get(int(pid)) for pid in product_ids]
        if any(row is None for row in rows):
            return None
        return self._matrix[np.asarray(rows, dtype=np.int64)]

    def attributes_of(self, product_id: int) -> dict[str, str]:
        row = self._row_of.get(product_id)
        if row is None:
            raise NotIndexed(product_id)
        return {name: self._values[name][int(self._codes[name][row])] for name in FILTER_FIELDS}

    def filter_values(self) -> dict[str, list[str]]:
        """For each filter field, the non-empty values some indexed product has, sorted."""
        cached = self._filter_values_cache
        if cached is not None and cached[0] == self._version:
            return cached[1]
        values = {}
        for name in FILTER_FIELDS:
            codes = np.unique(self._codes[name][: self._size])
            values[name] = sorted(v for v in (self._values[name][int(c)] for c in codes) if v)
        self._filter_values_cache = (self._version, values)
        return values

    def arrays(self) -> IndexArrays:
        """The rows sorted by product id (copies), for building a FAISS artifact."""
        n = self._size
        order = np.argsort(self._ids[:n], kind="stable")
        return IndexArrays(
            ids=self._ids[:n][order],
            matrix=self._matrix[:n][order],
            similar=self._similar[:n][order] if self._head is not None else None,
            codes=np.stack([self._codes[name][:n][order] for name in FILTER_FIELDS]),
            values={name: list(self._values[name]) for name in FILTER_FIELDS},
        )

    # --- searching --------------------------------------------------------------------------

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        """A raw 2048-dim query embedding in the index's space, normalised."""
        return self.project(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to an indexed product, never the product itself."""
        head_space = self._head is not None
        query = self.vector_of(product_id, head_space=head_space)
        return self.search(query, k, filters, exclude=product_id, head_space=head_space)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to a raw (2048-dim) query embedding."""
        return self.search(self.project_query(vector), k, filters)

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, object] | None = None,
        *,
        exclude: int | None = None,
        head_space: bool = False,
    ) -> list[Hit]:
        """The k rows nearest to a query already in the index's space (or the head's), best
        first, never ``exclude`` (a product id)."""
        n = self._size
        if n == 0 or k <= 0:
            return []
        try:
            blocked = self._blocked(filters or {}, n)
        except LookupError:
            return []
        scores = (self._similar if head_space else self._matrix)[:n] @ query
        available = n
        if blocked is not None:
            scores[blocked] = -np.inf
            available -= int(np.count_nonzero(blocked))
        exclude_row = self._row_of.get(exclude) if exclude is not None else None
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
