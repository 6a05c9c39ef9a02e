"""The FAISS index artifact: its files, how a host fetches one, and how a process maps it.

An artifact is a folder of files, written once by a worker (services/artifacts.py) and kept in
Django's storage under ``IndexArtifact.path``:

- ``raw.faiss``: the FAISS index over the PCA-projected, L2-normalised raw vectors (photo
  search, and find similar without a head), inner product;
- ``similar.faiss``: the FAISS index over the find-similar vectors of the active head
  (``[head embedding, sqrt(w) × colour probabilities]``), only when a head was active;
- ``ids.npy``: the product id of each FAISS row (row i ↔ FAISS id i);
- ``codes.npy``: (fields, rows) int32 attribute codes, in ``FILTER_FIELDS`` order;
- ``meta.json`` (written last): model version, projection id, head id, the change-log
  watermark the build read up to, the factory string, each field's code → value list and
  ``tuning``: per space (``raw``, ``similar``) the probe count tuned at build
  (``visualsearch.index.tuning.NprobeTuning`` as a dict; absent in older artifacts).

A host fetches an artifact once into VISUALSEARCH_ARTIFACT_CACHE_DIR: into a temporary
folder, renamed to ``v<id>`` when every file is there (a rename is atomic), so a process never
opens a half-written copy. Processes then memory-map the files (``faiss.IO_FLAG_MMAP``,
``numpy.load(mmap_mode="r")``): the gunicorn workers of a host share one copy in the page cache.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visualsearch.index.tuning import NprobeTuning, ivf_of

logger = logging.getLogger(__name__)

META = "meta.json"
RAW = "raw.faiss"
SIMILAR = "similar.faiss"
IDS = "ids.npy"
CODES = "codes.npy"
FILES = (RAW, SIMILAR, IDS, CODES, META)  # META last: its presence marks a complete folder
FORMAT = 1
SPACE_RAW = "raw"  # the ranking spaces, as meta.json's "tuning" names them
SPACE_SIMILAR = "similar"


TRAIN_ROWS = 100_000  # k-means training sample


def nlist_for(rows: int) -> int:
    """Inverted lists for ``rows`` vectors: ~4√N, at most one per 39 training rows (FAISS's
    minimum), at least 1."""
    return max(1, min(int(4 * np.sqrt(max(rows, 1))), min(rows, TRAIN_ROWS) // 39))


def build_faiss(vectors: np.ndarray, factory: str, *, seed: int = 0) -> Any:
    """A trained FAISS index (inner product) over unit rows, ids = row numbers, with a direct
    map so a row's vector can be reconstructed (find similar's query)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, dims = vectors.shape
    spec = factory.format(nlist=nlist_for(rows))
    index = faiss.index_factory(dims, spec, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        train = vectors if rows <= TRAIN_ROWS else vectors[np.sort(rng.choice(rows, TRAIN_ROWS, replace=False))]
        index.train(train)
    for start in range(0, rows, 100_000):
        index.add(vectors[start : start + 100_000])
    ivf = ivf_of(index)
    if ivf is not None:
        ivf.make_direct_map()
    return index


def tuning_of(meta: dict[str, Any], space: str) -> NprobeTuning | None:
    """The probe count tuned for ``space`` at the artifact's build (None: not tuned)."""
    data = (meta.get("tuning") or {}).get(space)
    return NprobeTuning.from_dict(data) if data else None


def write_files(
    directory: Path,
    *,
    meta: dict[str, Any],
    ids: np.ndarray,
    codes: np.ndarray,
    raw: Any,
    similar: Any | None,
) -> None:
    """Write an artifact's files into ``directory`` (meta.json last)."""
    import faiss

    directory.mkdir(parents=True, exist_ok=True)
    faiss.write_index(raw, str(directory / RAW))
    if similar is not None:
        faiss.write_index(similar, str(directory / SIMILAR))
    np.save(directory / IDS, np.asarray(ids, dtype=np.int64))
    np.save(directory / CODES, np.ascontiguousarray(codes, dtype=np.int32))
    (directory / META).write_text(json.dumps({**meta, "format": FORMAT}))


@dataclass
class MappedArtifact:
    """An artifact's files, memory-mapped."""

    version: int
    meta: dict[str, Any]
    ids: np.ndarray  # (rows,) int64, mapped
    codes: np.ndarray  # (fields, rows) int32, mapped
    raw: Any  # faiss index
    similar: Any | None
    directory: Path

    @property
    def rows(self) -> int:
        return len(self.ids)

    def file_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())


def open_mapped(directory: Path, version: int) -> MappedArtifact:
    """Memory-map a complete local artifact folder."""
    import faiss

    meta = json.loads((directory / META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"artifact format {meta.get('format')!r}, expected {FORMAT}")
    raw = faiss.read_index(str(directory / RAW), faiss.IO_FLAG_MMAP)
    similar = faiss.read_index(str(directory / SIMILAR), faiss.IO_FLAG_MMAP) if (directory / SIMILAR).exists() else None
    ids = np.load(directory / IDS, mmap_mode="r")
    codes = np.load(directory / CODES, mmap_mode="r")
    if raw.ntotal != len(ids) or (similar is not None and similar.ntotal != len(ids)) or codes.shape[1] != len(ids):
        raise ValueError("artifact files disagree on the row count")
    return MappedArtifact(version, meta, ids, codes, raw, similar, directory)


def fetch_to_cache(version: int, storage_path: str, cache_dir: Path, storage: Any = None) -> Path:
    """This host's copy of artifact ``version``: fetched from storage once, into a temporary
    folder renamed into place when complete (other processes of the host reuse it)."""
    from django.core.files.storage import default_storage

    storage = storage or default_storage
    cache_dir = Path(cache_dir)
    final = cache_dir / f"v{version}"
    if (final / META).exists():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".v{version}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name in FILES:
            key = f"{storage_path}/{name}"
            if name == SIMILAR and not storage.exists(key):
                continue
            with storage.open(key, "rb") as src, open(tmp / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        try:
            os.rename(tmp, final)
        except OSError:  # another process of this host finished first
            if not (final / META).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def prune_cache(cache_dir: Path, keep: set[int]) -> None:
    """Remove cached artifact folders other than ``keep`` (mapped files stay readable by the
    processes that still have them open)."""
    cache_dir = Path(cache_dir)
    if not cache_dir.exists():
        return
    for path in cache_dir.iterdir():
        if path.name.startswith("v") and path.name[1:].isdigit() and int(path.name[1:]) not in keep:
            shutil.rmtree(path, ignore_errors=True)
