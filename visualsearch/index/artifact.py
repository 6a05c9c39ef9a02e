"""The FAISS index artifact: its files, how a host fetches one, and how a process maps it.

An artifact is a folder of files, written once by a worker (services/artifacts.py) and kept in
Django's storage under ``IndexArtifact.path``:

- ``raw.faiss``: the FAISS index over the PCA-projected, L2-normalised raw vectors (photo
  search, and find similar without a head), inner product;
- ``similar.faiss``: the FAISS index over the find-similar vectors of the active head
  (``[head embedding, sqrt(w) × colour probabilities]``), only when a head was active;
- ``ids.npy``: the product id of each FAISS row (row i ↔ FAISS id i);
- ``codes.npy``: (fields, rows) int32 attribute codes, in ``FILTER_FIELDS`` order;
- the products' more images (``shop.ProductImage``, photo search only), when the catalogue
  has any: ``images.faiss`` (their vectors in photo search's space, projected and compressed
  as ``raw.faiss``), ``image_ids.npy`` (the image id of each row, ascending),
  ``image_products.npy`` (each row's product id) and ``image_codes.npy`` (their products'
  attribute codes); meta.json's ``images`` holds their row count, code → value lists and
  probe tuning (format 2; a format-1 artifact is refused: rebuild it);
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
IMAGES_RAW = "images.faiss"
IMAGE_IDS = "image_ids.npy"
IMAGE_PRODUCTS = "image_products.npy"
IMAGE_CODES = "image_codes.npy"
IMAGE_FILES = (IMAGES_RAW, IMAGE_IDS, IMAGE_PRODUCTS, IMAGE_CODES)
OPTIONAL = (SIMILAR, *IMAGE_FILES)  # absent without a head / without more images
# META last: its presence marks a complete folder
FILES = (RAW, SIMILAR, IDS, CODES, *IMAGE_FILES, META)
FORMAT = 2  # 2: the more images' files (an older artifact is refused: ArtifactFormatError)
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


class ArtifactFormatError(ValueError):
    """An artifact written by another version of this code (rebuild it)."""


@dataclass(frozen=True)
class ImageArrays:
    """The more images' rows for an artifact: image ids ascending, each row's product, vectors
    in photo search's space, attribute codes and each field's code → value list."""

    ids: np.ndarray
    product_ids: np.ndarray
    codes: np.ndarray
    values: dict[str, list[str]]
    raw: Any  # faiss index


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
    images: ImageArrays | None = None,
) -> None:
    """Write an artifact's files into ``directory`` (meta.json last)."""
    import faiss

    directory.mkdir(parents=True, exist_ok=True)
    faiss.write_index(raw, str(directory / RAW))
    if similar is not None:
        faiss.write_index(similar, str(directory / SIMILAR))
    np.save(directory / IDS, np.asarray(ids, dtype=np.int64))
    np.save(directory / CODES, np.ascontiguousarray(codes, dtype=np.int32))
    if images is not None:
        faiss.write_index(images.raw, str(directory / IMAGES_RAW))
        np.save(directory / IMAGE_IDS, np.asarray(images.ids, dtype=np.int64))
        np.save(directory / IMAGE_PRODUCTS, np.asarray(images.product_ids, dtype=np.int64))
        np.save(directory / IMAGE_CODES, np.ascontiguousarray(images.codes, dtype=np.int32))
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
    # The more images (photo search): a MappedArtifact of their own (ids = image ids, no
    # similar space, meta's values and tuning theirs) and each row's product; None without.
    images: MappedArtifact | None = None
    image_products: np.ndarray | None = None

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
        raise ArtifactFormatError(
            f"artifact format {meta.get('format')!r}, this code reads {FORMAT}: rebuild it (task build_index_artifact)"
        )
    raw = faiss.read_index(str(directory / RAW), faiss.IO_FLAG_MMAP)
    similar = faiss.read_index(str(directory / SIMILAR), faiss.IO_FLAG_MMAP) if (directory / SIMILAR).exists() else None
    ids = np.load(directory / IDS, mmap_mode="r")
    codes = np.load(directory / CODES, mmap_mode="r")
    if raw.ntotal != len(ids) or (similar is not None and similar.ntotal != len(ids)) or codes.shape[1] != len(ids):
        raise ValueError("artifact files disagree on the row count")
    mapped = MappedArtifact(version, meta, ids, codes, raw, similar, directory)
    if meta.get("images") and (directory / IMAGES_RAW).exists():
        images_meta = {**meta, **meta["images"]}  # their values and tuning
        images_raw = faiss.read_index(str(directory / IMAGES_RAW), faiss.IO_FLAG_MMAP)
        image_ids = np.load(directory / IMAGE_IDS, mmap_mode="r")
        products = np.load(directory / IMAGE_PRODUCTS, mmap_mode="r")
        image_codes = np.load(directory / IMAGE_CODES, mmap_mode="r")
        if not images_raw.ntotal == len(image_ids) == len(products) == image_codes.shape[1]:
            raise ValueError("artifact image files disagree on the row count")
        mapped.images = MappedArtifact(version, images_meta, image_ids, image_codes, images_raw, None, directory)
        mapped.image_products = products
    return mapped


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
            if name in OPTIONAL and not storage.exists(key):
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
