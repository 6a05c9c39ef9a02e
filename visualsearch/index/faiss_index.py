"""The FAISS index: the exact index's results contract, over a memory-mapped artifact.

``FaissIndex`` serves the newest ready ``IndexArtifact`` (built by a worker,
services/artifacts.py; files in artifact.py), fetched once per host and memory-mapped, so the
gunicorn workers of a host share one copy and a worker starts without reading the embeddings
from PostgreSQL. Both rankings of the exact index have a FAISS index in the artifact:

- photo search (and find similar without a head): ``raw.faiss`` over the PCA-projected raw
  vectors; the search services re-score its candidates with the stored 2048-dim vectors
  (``projected`` is True), so the final order is the exact one;
- find similar with the active head: ``similar.faiss`` over the head + colour vectors (its
  hits are final, as with the exact index).

The change log is applied on top in memory, as the exact index does: a changed or added
product goes into a small exact overlay (an ``EmbeddingIndex`` of the changed rows only) and
its artifact row is masked out; a deactivated product is masked out. A search merges the
FAISS hits (masked rows excluded) with the overlay's exact hits.

Filters (gender, category, colour, in stock) never lose results: the artifact keeps each
row's attribute codes, the FAISS search gets an ID selector of the allowed rows and probes
more lists the narrower the filter; at most VISUALSEARCH_FAISS_EXACT_SUBSET allowed rows it
probes every list, i.e. scans the filtered subset exactly (within the SQ8 quantisation); a
search that still found fewer than k probes every list again.

Without a usable artifact (none built yet, its files unreadable, or built for another model
version, projection or head: refused with a log line) the process serves the exact in-memory
index (it *is* one: ``FaissIndex`` extends ``EmbeddingIndex``), and switches to an artifact at
the first refresh that finds a matching one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index import projection as projection_mod
from visualsearch.index.base import Hit, NotIndexed
from visualsearch.index.changelog import FULL_RELOAD_AFTER
from visualsearch.index.memory import FILTER_FIELDS, EmbeddingIndex, _colours, active_head_id, active_head_load
from visualsearch.ml.embedder import MODEL_VERSION

logger = logging.getLogger(__name__)


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


class FaissIndex(EmbeddingIndex):
    def __init__(self, refresh_seconds: float | None = None) -> None:
        super().__init__(refresh_seconds)
        self._art: artifact_mod.MappedArtifact | None = None
        self._refused: int | None = None  # the artifact last refused (logged once)
        self._overlay = EmbeddingIndex()
        self._dead = np.zeros(0, dtype=bool)
        self._dead_count = 0
        self._base_vocab: dict[str, dict[object, int]] = {}
        self._base_values: dict[str, list[Any]] = {}
        self.stats.update({"artifact_loads": 0, "artifact_refusals": 0})

    @classmethod
    def from_artifact(
        cls, mapped: artifact_mod.MappedArtifact, projection: projection_mod.ProjectionData | None = None
    ) -> FaissIndex:
        """A static index over a mapped artifact, for benchmarks: it never reads the database
        (no change log, no head: find similar ranks by the raw vectors)."""
        index = cls()
        index._static = True
        index._projection = projection
        index._install(mapped)
        index._loaded = True
        index._version += 1
        return index

    def _install(self, mapped: artifact_mod.MappedArtifact) -> None:
        self._art = mapped
        self._overlay = self._empty_overlay()
        self._dead = np.zeros(mapped.rows, dtype=bool)
        self._dead_count = 0
        values = mapped.meta["values"]
        self._base_values = {name: list(values[name]) for name in FILTER_FIELDS}
        self._base_vocab = {name: {v: i for i, v in enumerate(vals)} for name, vals in self._base_values.items()}
        # Free the exact index's arrays (a switch from exact to the artifact).
        self._matrix = np.zeros((0, self._dims()), dtype=np.float32)
        self._similar = np.zeros((0, self._similar_dims()), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of = {}
        self._size = 0

    # --- loading ------------------------------------------------------------------------

    @property
    def artifact_version(self) -> int | None:
        """The artifact served (refreshes first), None while the exact index serves."""
        self.ensure_fresh()
        return self._art.version if self._art is not None else None

    def _map(self, row: Any) -> artifact_mod.MappedArtifact | None:
        if self._art is not None and self._art.version == row.pk:
            return self._art
        try:
            directory = artifact_mod.fetch_to_cache(row.pk, row.path, vs_settings.ARTIFACT_CACHE_DIR)
            return artifact_mod.open_mapped(directory, row.pk)
        except Exception:
            logger.exception("could not fetch or map index artifact v%s: serving the exact index", row.pk)
            return None

    def load(self) -> None:
        """Map the newest ready artifact and apply the change log since its build; the exact
        in-memory load when there is none or it does not match."""
        with self._lock:
            row = newest_ready_artifact()
            mapped = self._map(row) if row is not None else None
            projection = projection_mod.projection_current()
            head = active_head_load()
            if mapped is not None:
                why = artifact_mismatch(mapped.meta, projection.pk if projection else None, head.pk if head else None)
                if why is None and row.created < timezone.now() - timedelta(
                    hours=vs_settings.INDEX_CHANGE_RETENTION_HOURS
                ):
                    why = "older than the change log's retention: changes since its build may be pruned"
                if why is not None:
                    if self._refused != mapped.version:
                        logger.warning("refusing index artifact v%s (%s): serving the exact index", mapped.version, why)
                        self.stats["artifact_refusals"] += 1
                    self._refused = mapped.version
                    mapped = None
            if mapped is None:
                self._use_exact()
                return
            self._projection = projection
            self._head = head
            self._install(mapped)
            self._changes.restart(int(mapped.meta["change_watermark"]))
            changes = self._changes.pending()
            if len(changes) >= FULL_RELOAD_AFTER:
                logger.warning(
                    "index artifact v%s is %d+ changes behind: serving the exact index", mapped.version, len(changes)
                )
                self._use_exact()
                return
            self._apply(changes)
            self._loaded = True
            self._last_check = time.monotonic()
            self._version += 1
            self.stats["artifact_loads"] += 1
            artifact_mod.prune_cache(vs_settings.ARTIFACT_CACHE_DIR, {mapped.version})

    def _use_exact(self) -> None:
        self._art = None
        self._overlay = self._empty_overlay()
        self._dead = np.zeros(0, dtype=bool)
        self._dead_count = 0
        super().load()

    def _empty_overlay(self) -> EmbeddingIndex:
        overlay = EmbeddingIndex()
        overlay._static = True
        overlay._loaded = True
        overlay._projection = self._projection
        overlay._head = self._head
        overlay._matrix = np.zeros((0, overlay._dims()), dtype=np.float32)
        overlay._similar = np.zeros((0, overlay._similar_dims()), dtype=np.float32)
        return overlay

    def refresh(self) -> None:
        if self._art is None:
            row = newest_ready_artifact()
            if row is not None and row.pk != self._refused:
                self.load()
            else:
                super().refresh()
            return
        with self._lock:
            idle = time.monotonic() - self._last_check
            self._last_check = time.monotonic()
            row = newest_ready_artifact()
            if (
                idle > vs_settings.INDEX_CHANGE_RETENTION_HOURS * 3600 / 2
                or row is None
                or row.pk != self._art.version
                or projection_mod.projection_current_id() != (self._projection.pk if self._projection else None)
                or active_head_id() != (self._head.pk if self._head else None)
            ):
                self.load()
                return
            changes = self._changes_to_apply()
            if changes is None:
                return
            self._apply(changes)
            self._version += 1
            self.stats["refreshes"] += 1

    def _base_row(self, product_id: int) -> int | None:
        """The artifact row of a product (ids are sorted), masked rows included."""
        art = self._art
        if art is None or art.rows == 0:
            return None
        row = int(np.searchsorted(art.ids, product_id))
        return row if row < art.rows and int(art.ids[row]) == product_id else None

    def _kill(self, product_id: int) -> None:
        row = self._base_row(product_id)
        if row is not None and not self._dead[row]:
            self._dead[row] = True
            self._dead_count += 1

    def _apply(self, changes: list[tuple[int, int]]) -> None:
        """Changed products: re-read into the overlay (their artifact rows masked), or gone."""
        changed = {pid for _id, pid in changes}
        present = set()
        overlay = self._overlay
        if changed:
            for row in self._rows(changed):
                present.add(row[0])
                vectors = self._unpack([bytes(row[1])])
                similar = (
                    self._head.model.similar_vectors(vectors, _colours([row[2]]))[0] if self._head is not None else None
                )
                self._kill(row[0])
                overlay._upsert(row[0], self._project_array(vectors)[0], row[3:], similar)
            for pid in changed - present:
                self._kill(pid)
                overlay._remove(pid)
        self._changes.advance([cid for cid, _pid in changes])
        self.stats["late_changes"] = self._changes.late_changes
        self.stats["rows_refreshed"] += len(changed)

    # --- inspecting ---------------------------------------------------------------------

    def __len__(self) -> int:
        self.ensure_fresh()
        if self._art is None:
            return self._size
        return self._art.rows - self._dead_count + self._overlay._size

    def __contains__(self, product_id: object) -> bool:
        self.ensure_fresh()
        if self._art is None:
            return product_id in self._row_of
        pid = int(product_id)  # type: ignore[call-overload]
        if pid in self._overlay._row_of:
            return True
        row = self._base_row(pid)
        return row is not None and not self._dead[row]

    @property
    def projected(self) -> bool:
        return self._art is not None or self._projection is not None

    @property
    def nbytes(self) -> int:
        """Memory this process holds of its own (the mapped artifact files not counted: see
        ``mapped_bytes``)."""
        if self._art is None:
            return super().nbytes
        return int(self._overlay.nbytes + self._dead.nbytes)

    def memory_bytes(self) -> int:
        if self._art is None:
            return super().memory_bytes()
        return self.nbytes + self._overlay.memory_bytes()

    def mapped_bytes(self) -> int:
        """Size of the memory-mapped artifact files (shared by the processes of a host)."""
        return self._art.file_bytes() if self._art is not None else 0

    def _base_vector(self, row: int, head_space: bool) -> np.ndarray:
        assert self._art is not None
        index = self._art.similar if head_space else self._art.raw
        assert index is not None
        vector = np.asarray(index.reconstruct(row), dtype=np.float32)
        if head_space:  # head rows are not unit vectors: keep their scale, as the exact index does
            return vector
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def vector_of(self, product_id: int) -> np.ndarray:
        with self._lock:
            self.ensure_fresh()
            if self._art is None:
                return super().vector_of(product_id)
            if product_id in self._overlay._row_of:
                return self._overlay._matrix[self._overlay._row_of[product_id]].copy()
            row = self._base_row(product_id)
            if row is None or self._dead[row]:
                raise NotIndexed(product_id)
            return self._base_vector(row, head_space=False)

    def attributes_of(self, product_id: int) -> dict[str, str]:
        with self._lock:
            self.ensure_fresh()
            if self._art is None:
                return super().attributes_of(product_id)
            if product_id in self._overlay._row_of:
                return self._overlay.attributes_of(product_id)
            row = self._base_row(product_id)
            if row is None or self._dead[row]:
                raise NotIndexed(product_id)
            codes = self._art.codes
            return {name: self._base_values[name][int(codes[f, row])] for f, name in enumerate(FILTER_FIELDS)}

    def filter_values(self) -> dict[str, list[str]]:
        with self._lock:
            self.ensure_fresh()
            if self._art is None:
                return super().filter_values()
            cached = self._filter_values_cache
            if cached is not None and cached[0] == self._version:
                return cached[1]
            alive = ~self._dead
            overlay = self._overlay
            values = {}
            for f, name in enumerate(FILTER_FIELDS):
                present = {self._base_values[name][int(c)] for c in np.unique(np.asarray(self._art.codes[f])[alive])}
                present |= {overlay._values[name][int(c)] for c in np.unique(overlay._codes[name][: overlay._size])}
                values[name] = sorted(v for v in present if v)
            self._filter_values_cache = (self._version, values)
            return values

    # --- searching ----------------------------------------------------------------------

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        with self._lock:
            self.ensure_fresh()
            if self._art is None:
                return super().similar_to_product(product_id, k, filters)
            head_space = self._head is not None
            overlay_row = self._overlay._row_of.get(product_id)
            if overlay_row is not None:
                source = self._overlay._similar if head_space else self._overlay._matrix
                query = source[overlay_row].copy()
            else:
                row = self._base_row(product_id)
                if row is None or self._dead[row]:
                    raise NotIndexed(product_id)
                query = self._base_vector(row, head_space)
            return self._ann(query, k, filters or {}, head_space=head_space, exclude=product_id)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        with self._lock:
            self.ensure_fresh()
            if self._art is None:
                return super().similar_to_vector(vector, k, filters)
            query = self._project_array(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
            return self._ann(query, k, filters or {}, head_space=False, exclude=None)

    def _allowed(self, filters: Mapping[str, object]) -> np.ndarray | None:
        """Artifact rows a search may return (None: all); raises LookupError for a value no
        artifact row has."""
        assert self._art is not None
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

    def _ann(
        self, query: np.ndarray, k: int, filters: Mapping[str, object], *, head_space: bool, exclude: int | None
    ) -> list[Hit]:
        if k <= 0:
            return []
        hits = self._faiss_search(query, k, filters, head_space=head_space, exclude=exclude)
        overlay = self._overlay
        if overlay._size:
            exclude_row = overlay._row_of.get(exclude) if exclude is not None else None
            hits += overlay._search(query, k, filters, exclude_row, matrix=overlay._similar if head_space else None)
            hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def _probe(
        self, faiss: Any, index: Any, q: np.ndarray, want: int, allowed: np.ndarray | None, available: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The FAISS search: VISUALSEARCH_FAISS_NPROBE lists, × √(rows / allowed rows) under a
        filter (an ID selector of the allowed rows); every list when that found fewer than
        ``want``."""
        assert self._art is not None
        ivf = artifact_mod._ivf(index)
        nlist = ivf.nlist if ivf is not None else 1
        nprobe = min(nlist, int(vs_settings.FAISS_NPROBE))
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
        assert art is not None
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
            # A small subset: decode its rows and score them exactly (~5 µs a row).
            rows = np.flatnonzero(allowed).astype(np.int64)
            subset_scores = index.reconstruct_batch(rows) @ q[0]
            top = np.argsort(-subset_scores, kind="stable")[:want]
            scores, labels = subset_scores[top].reshape(1, -1), rows[top].reshape(1, -1)
            found = np.ones(len(top), dtype=bool)
        else:
            scores, labels, found = self._probe(faiss, index, q, want, allowed, available)
        rows = labels[0][found]
        pids = np.asarray(art.ids[rows]).tolist()
        out = [
            Hit(int(pid), float(s)) for pid, s in zip(pids, scores[0][found].tolist(), strict=True) if pid != exclude
        ]
        return out[:k]
