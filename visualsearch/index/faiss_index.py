"""The FAISS index: the exact index's results contract, over a memory-mapped artifact.

``FaissIndex`` searches an ``IndexArtifact`` (built by a worker, services/artifacts.py; files
in artifact.py) fetched once per host and memory-mapped, so the gunicorn workers of a host
share one copy (``visualsearch.index.loading`` picks, maps and refreshes it). Both rankings of
the exact index have a FAISS index in the artifact:

- photo search (and find similar without a head): ``raw.faiss`` over the PCA-projected raw
  vectors; the search services re-score its candidates with the stored 2048-dim vectors
  (``projected`` is True), so the final order is the exact one;
- find similar with the head: ``similar.faiss`` over the head + colour vectors (its hits are
  final, as with the exact index).

Changes on top of the artifact are held in memory: a changed or added product goes into a
small exact overlay (an ``EmbeddingIndex`` of the changed rows only) and its artifact row is
masked out; a removed product is masked out. A search merges the FAISS hits (masked rows
excluded) with the overlay's exact hits.

Each space probes the number of inverted lists tuned for it when the artifact was built
(``visualsearch.index.tuning``, kept in meta.json), unless VISUALSEARCH_FAISS_NPROBE sets one.

Filters (gender, category, colour, in stock) never lose results: the artifact keeps each
row's attribute codes, the FAISS search gets an ID selector of the allowed rows and probes
more lists the narrower the filter; at most VISUALSEARCH_FAISS_EXACT_SUBSET allowed rows it
probes every list, i.e. scans the filtered subset exactly (within the SQ8 quantisation); a
search that still found fewer than k probes every list again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index.base import Hit, NotIndexed
from visualsearch.index.memory import FILTER_FIELDS, ActiveHead, EmbeddingIndex
from visualsearch.index.projection import ProjectionData
from visualsearch.index.tuning import NprobeTuning, ivf_of
from visualsearch.ml.photo_projection import PhotoProjection


class FaissIndex:
    def __init__(
        self,
        mapped: artifact_mod.MappedArtifact,
        projection: ProjectionData | None = None,
        head: ActiveHead | None = None,
        *,
        similar_space: bool = True,
    ) -> None:
        """``similar_space=False``: photo search's rows only (the artifact's more images)."""
        self._art = mapped
        self._overlay = EmbeddingIndex(projection, head, similar_space=similar_space)  # changed and added rows, exact
        self._dead = np.zeros(mapped.rows, dtype=bool)  # artifact rows masked out
        self._dead_count = 0
        values = mapped.meta["values"]
        self._base_values: dict[str, list[Any]] = {name: list(values[name]) for name in FILTER_FIELDS}
        self._base_vocab: dict[str, dict[object, int]] = {
            name: {v: i for i, v in enumerate(vals)} for name, vals in self._base_values.items()
        }
        self._version = 0  # bumped on every change of the contents
        self._filter_values_cache: tuple[int, dict[str, list[str]]] | None = None

    @classmethod
    def from_artifact(cls, mapped: artifact_mod.MappedArtifact, projection: ProjectionData | None = None) -> FaissIndex:
        """An index over a mapped artifact with no head (find similar ranks by the raw vectors)."""
        return cls(mapped, projection)

    def ensure_fresh(self) -> None:
        """Nothing to do: a data structure changes only when told (the SearchIndex protocol)."""

    # --- changing ---------------------------------------------------------------------------

    def upsert(
        self, product_id: int, vector: np.ndarray, attributes: Sequence[Any], colour: np.ndarray | None = None
    ) -> None:
        """A changed or added product: into the overlay, its artifact row masked out."""
        self._kill(product_id)
        self._overlay.upsert(product_id, vector, attributes, colour)
        self._version += 1

    def remove(self, product_id: int) -> None:
        self._kill(product_id)
        self._overlay.remove(product_id)
        self._version += 1

    def _base_row(self, product_id: int) -> int | None:
        """The artifact row of a product (ids are sorted), masked rows included."""
        art = self._art
        if art.rows == 0:
            return None
        row = int(np.searchsorted(art.ids, product_id))
        return row if row < art.rows and int(art.ids[row]) == product_id else None

    def _kill(self, product_id: int) -> None:
        row = self._base_row(product_id)
        if row is not None and not self._dead[row]:
            self._dead[row] = True
            self._dead_count += 1

    # --- inspecting -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._art.rows - self._dead_count + len(self._overlay)

    def __contains__(self, product_id: object) -> bool:
        pid = int(product_id)  # type: ignore[call-overload]
        if pid in self._overlay:
            return True
        row = self._base_row(pid)
        return row is not None and not self._dead[row]

    @property
    def artifact(self) -> artifact_mod.MappedArtifact:
        return self._art

    @property
    def artifact_version(self) -> int:
        return self._art.version

    @property
    def dims(self) -> int:
        return self._overlay.dims

    @property
    def projection(self) -> ProjectionData | None:
        return self._overlay.projection

    @property
    def head(self) -> ActiveHead | None:
        return self._overlay.head

    @property
    def projected(self) -> bool:
        return True  # the artifact's vectors are approximate: the full vectors re-rank

    @property
    def head_version(self) -> str | None:
        return self._overlay.head_version

    @property
    def photo_projection(self) -> PhotoProjection | None:
        return self._overlay.photo_projection

    @property
    def model_version(self) -> str:
        return self._overlay.model_version

    @property
    def nbytes(self) -> int:
        """Memory this process holds of its own (the mapped artifact files not counted: see
        ``mapped_bytes``)."""
        return int(self._overlay.nbytes + self._dead.nbytes)

    def memory_bytes(self) -> int:
        """``nbytes`` plus the overlay's Python objects (its arrays counted once)."""
        return int(self._dead.nbytes) + self._overlay.memory_bytes()

    def mapped_bytes(self) -> int:
        """Size of the memory-mapped artifact files (shared by the processes of a host)."""
        return self._art.file_bytes()

    def _base_vector(self, row: int, head_space: bool) -> np.ndarray:
        index = self._art.similar if head_space else self._art.raw
        assert index is not None
        vector = np.asarray(index.reconstruct(row), dtype=np.float32)
        if head_space:  # head rows are not unit vectors: keep their scale, as the exact index does
            return vector
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def vector_of(self, product_id: int, *, head_space: bool = False) -> np.ndarray:
        if product_id in self._overlay:
            return self._overlay.vector_of(product_id, head_space=head_space)
        row = self._base_row(product_id)
        if row is None or self._dead[row]:
            raise NotIndexed(product_id)
        return self._base_vector(row, head_space)

    def attributes_of(self, product_id: int) -> dict[str, str]:
        if product_id in self._overlay:
            return self._overlay.attributes_of(product_id)
        row = self._base_row(product_id)
        if row is None or self._dead[row]:
            raise NotIndexed(product_id)
        codes = self._art.codes
        return {name: self._base_values[name][int(codes[f, row])] for f, name in enumerate(FILTER_FIELDS)}

    def filter_values(self) -> dict[str, list[str]]:
        cached = self._filter_values_cache
        if cached is not None and cached[0] == self._version:
            return cached[1]
        alive = ~self._dead
        overlay = self._overlay.filter_values()
        values = {}
        for f, name in enumerate(FILTER_FIELDS):
            present = {self._base_values[name][int(c)] for c in np.unique(np.asarray(self._art.codes[f])[alive])}
            present |= set(overlay[name])
            values[name] = sorted(v for v in present if v)
        self._filter_values_cache = (self._version, values)
        return values

    # --- searching --------------------------------------------------------------------------

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        return self._overlay.project_query(vector)

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        head_space = self.head is not None
        query = self.vector_of(product_id, head_space=head_space)
        return self.search(query, k, filters, exclude=product_id, head_space=head_space)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
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
        """The FAISS hits (masked rows excluded) merged with the overlay's exact hits."""
        if k <= 0:
            return []
        filters = filters or {}
        hits = self._faiss_search(query, k, filters, head_space=head_space, exclude=exclude)
        if len(self._overlay):
            hits += self._overlay.search(query, k, filters, exclude=exclude, head_space=head_space)
            hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def _allowed(self, filters: Mapping[str, object]) -> np.ndarray | None:
        """Artifact rows a search may return (None: all); raises LookupError for a value no
        artifact row has."""
        allowed = None
        for name, value in filters.items():
            code = self._base_vocab[name].get(value)
            if code is None:
                raise LookupError(value)
            match = np.asarray(self._art.codes[FILTER_FIELDS.index(name)]) == code
            allowed = match if allowed is None else np.logical_and(allowed, match, out=allowed)
        if self._dead_count:
            allowed = ~self._dead if allowed is None else np.logical_and(allowed, ~self._dead, out=allowed)
        return allowed

    def tuning(self, *, head_space: bool = False) -> NprobeTuning | None:
        """How the artifact's build tuned this space's probe count (None: an untuned artifact)."""
        space = artifact_mod.SPACE_SIMILAR if head_space else artifact_mod.SPACE_RAW
        return artifact_mod.tuning_of(self._art.meta, space)

    def nprobe(self, *, head_space: bool = False) -> int:
        """Lists an unfiltered search probes: VISUALSEARCH_FAISS_NPROBE when set (> 0), else the
        count tuned at the artifact's build, else (an untuned artifact) VISUALSEARCH_FAISS_NPROBE_MAX."""
        explicit = int(vs_settings.FAISS_NPROBE)
        if explicit > 0:
            return explicit
        tuned = self.tuning(head_space=head_space)
        return tuned.nprobe if tuned is not None else int(vs_settings.FAISS_NPROBE_MAX)

    def _probe(
        self,
        faiss: Any,
        index: Any,
        q: np.ndarray,
        want: int,
        allowed: np.ndarray | None,
        available: int,
        *,
        head_space: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The FAISS search: ``nprobe()`` lists, × √(rows / allowed rows) under a filter (an ID
        selector of the allowed rows); every list when that found fewer than ``want``."""
        ivf = ivf_of(index)
        nlist = ivf.nlist if ivf is not None else 1
        nprobe = min(nlist, self.nprobe(head_space=head_space))
        selector = None
        bitmap = None
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")  # kept alive while the selector is used
            selector = faiss.IDSelectorBitmap(bitmap)
            nprobe = min(nlist, math.ceil(nprobe * math.sqrt(self._art.rows / max(available, 1))))
        while True:
            if ivf is not None:
                params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
            else:
                params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, labels = index.search(q, want, params=params)
            found = labels[0] >= 0
            if found.sum() >= want or nprobe >= nlist:
                break
            nprobe = nlist
        del bitmap
        return scores, labels, found

    def _faiss_search(
        self, query: np.ndarray, k: int, filters: Mapping[str, object], *, head_space: bool, exclude: int | None
    ) -> list[Hit]:
        import faiss as faiss_module

        faiss: Any = faiss_module  # its stubs miss the SWIG keyword arguments
        art = self._art
        index = art.similar if head_space else art.raw
        if index is None or art.rows == 0:
            return []
        try:
            allowed = self._allowed(filters)
        except LookupError:
            return []
        available = art.rows if allowed is None else int(np.count_nonzero(allowed))
        want = min(k + (1 if exclude is not None else 0), available)
        if want <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None and available <= int(vs_settings.FAISS_EXACT_SUBSET):
            # A small subset: decode its rows and score them exactly.
            rows = np.flatnonzero(allowed).astype(np.int64)
            subset_scores = index.reconstruct_batch(rows) @ q[0]
            top = np.argsort(-subset_scores, kind="stable")[:want]
            scores, labels = subset_scores[top].reshape(1, -1), rows[top].reshape(1, -1)
            found = np.ones(len(top), dtype=bool)
        else:
            scores, labels, found = self._probe(faiss, index, q, want, allowed, available, head_space=head_space)
        rows = labels[0][found]
        pids = np.asarray(art.ids[rows]).tolist()
        out = [
            Hit(int(pid), float(s)) for pid, s in zip(pids, scores[0][found].tolist(), strict=True) if pid != exclude
        ]
        return out[:k]
