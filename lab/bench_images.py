"""Several images per product (issue 20): what the more images cost the index's memory and
photo search's latency, against one image per product measured in the same run
(``bench_search --images-per-product N``).

The catalogue: ``rows`` products (43,461 by default, as the shared catalogue) with
``bench_search``'s synthetic vectors (unit, non-negative like the max-pooled ReLU features)
attached to real product ids and attributes where the database has them, in the PCA-256
space of a random orthonormal projection, as ``bench_search`` measures kNN without real
embeddings. Each product's ``N - 1`` more images are mixtures around its main image
(``0.7 × main + 0.3 × another synthetic vector``, normalised): photos of the same item that
look alike without being copies. Nothing is written to the database.

Measured, the way the site ranks:

- memory: the product index (``EmbeddingIndex``, one row per product: find similar's and
  photo search's matrix) and the more images' rows (``ImageRows``, photo search only);
- find similar's index step (``similar_to_product``): the product index alone at both
  counts, so its rows, memory and latency do not grow with the gallery;
- photo search's ranking (``visualsearch.query.ranking.rank_photo``: the candidates of both
  structures, re-scored with the stored 2048-dim vectors from memory instead of PostgreSQL,
  collapsed to one hit per product), the query a photo of a random product's random photo
  (a more image when N > 1) with a little noise: p50 at 1 image per product and at N, and
  how often the photographed product is the first hit;
- the same catalogue as a FAISS site serves it (``--images-per-product`` measures both): the
  index artifact built by the production code (``artifact.build_faiss`` with
  VISUALSEARCH_FAISS_FACTORY, the probe count tuned as at build, ``write_files`` with the more
  images, ``open_mapped``), products in a ``FaissIndex`` and the more images in
  ``ImageRows.from_artifact``: each process's own memory (the mapped files, shared by a host's
  processes, counted apart), photo search's ranking p50 and the photographed product first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from lab.bench_search import (
    IndexMemory,
    K,
    Timing,
    catalogue_rows,
    random_projection,
    synthetic_vectors,
    timed_together,
)
from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index.base import Hit, ImageHit, SearchIndex
from visualsearch.index.faiss_index import FaissIndex
from visualsearch.index.images import ImageRowBlock, ImageRows
from visualsearch.index.memory import BLOCK_ROWS, FILTER_FIELDS, EmbeddingIndex, RowBlock
from visualsearch.index.tuning import nprobe_tune
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.ml.photo_projection import PhotoProjection
from visualsearch.query.ranking import rank_photo

MIX = 0.3  # how far a more image is from its product's main image


class _PhotoIndex:
    """What ``rank_photo`` needs of the live index, over the two structures (as
    ``loading.LiveIndex`` serves them), without the database."""

    photo_projection: PhotoProjection | None = None

    def __init__(self, products: EmbeddingIndex | FaissIndex, images: ImageRows) -> None:
        self.products = products
        self.images = images

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        return self.products.similar_to_vector(vector, k, filters)

    def similar_images_to_vector(
        self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None
    ) -> list[ImageHit]:
        return self.images.similar_to_vector(vector, k, filters)


@dataclass
class ImagesReport:
    real: bool
    rows: int
    dims: int
    images_per_product: int
    image_rows: int
    products_memory: IndexMemory
    images_memory: IndexMemory
    find_similar: Timing  # the product index's similar_to_product (the same at any image count)
    photo_one: Timing  # rank_photo with one image per product
    photo_many: Timing  # rank_photo with N per product
    first_one: float  # share of queries whose product is the first hit, one image per product
    first_many: float
    # The FAISS site: own memory per process (products, more images), the mapped files, the
    # ranking through the artifact at N per product and how often the product came first.
    artifact_products_memory: int = 0
    artifact_images_memory: int = 0
    artifact_mapped_bytes: int = 0
    artifact_image_files_bytes: int = 0
    photo_artifact: Timing | None = None
    first_artifact: float = 0.0

    @property
    def photo_ratio(self) -> float:
        return self.photo_many.p50 / self.photo_one.p50

    @property
    def memory_ratio(self) -> float:
        return (self.products_memory.memory_bytes + self.images_memory.memory_bytes) / max(
            self.products_memory.memory_bytes, 1
        )


def _normalised(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def artifact_serving(
    products: EmbeddingIndex, images: ImageRows, folder: Path, seed: int
) -> tuple[FaissIndex, ImageRows]:
    """The artifact the worker would build from these two structures, mapped as a web
    process maps it: products in a ``FaissIndex``, the more images from the artifact."""
    factory = str(vs_settings.FAISS_FACTORY)

    def built(matrix: np.ndarray) -> tuple[Any, dict[str, Any]]:
        raw = artifact_mod.build_faiss(matrix, factory, seed=seed)
        tuned = nprobe_tune(
            raw,
            matrix,
            target=float(vs_settings.FAISS_TARGET_RECALL),
            bound=int(vs_settings.FAISS_NPROBE_MAX),
            queries=int(vs_settings.FAISS_TUNE_QUERIES),
            rerank=max(int(vs_settings.RERANK_CANDIDATES), 1),
            seed=seed,
        )
        return raw, {artifact_mod.SPACE_RAW: tuned.as_dict()}

    arrays = products.arrays()
    raw, tuning = built(arrays.matrix)
    image_arrays, owners = images.arrays()
    images_raw, images_tuning = built(image_arrays.matrix)
    meta = {
        "model_version": MODEL_VERSION,
        "projection_id": None,
        "head_id": None,
        "change_watermark": 0,
        "factory": factory,
        "values": arrays.values,
        "rows": len(arrays.ids),
        "tuning": tuning,
        "images": {"rows": len(image_arrays.ids), "values": image_arrays.values, "tuning": images_tuning},
    }
    artifact_mod.write_files(
        folder,
        meta=meta,
        ids=arrays.ids,
        codes=arrays.codes,
        raw=raw,
        similar=None,
        images=artifact_mod.ImageArrays(image_arrays.ids, owners, image_arrays.codes, image_arrays.values, images_raw),
    )
    del raw, images_raw, arrays, image_arrays
    mapped = artifact_mod.open_mapped(folder, 1)
    return FaissIndex(mapped, products.projection), ImageRows.from_artifact(mapped, products.projection, None)


def real_catalogue(rows: int, dims: int, seed: int) -> tuple[np.ndarray, list[int], dict[str, list[str]], Any]:
    """The catalogue's own stored vectors (the first ``rows`` products the site serves), their
    ids and attributes, and a PCA projection fitted on them as the site fits its own."""
    from lab.relevance import load_catalogue
    from visualsearch.services.projection import projection_fit_vectors

    catalogue = load_catalogue()
    if len(catalogue) < rows:
        raise ValueError(f"--real needs {rows} embedded products; the database has {len(catalogue)}.")
    main = np.ascontiguousarray(catalogue.vectors[:rows], np.float32)
    ids = [int(pid) for pid in catalogue.ids[:rows]]
    attributes = {name: list(values[:rows]) for name, values in catalogue.attributes.items()}
    projection, _explained = projection_fit_vectors(main, dims, seed=seed)
    return main, ids, attributes, projection


def images_benchmark(
    rows: int, images_per_product: int, queries: int, seed: int, dims: int, *, real: bool = False
) -> ImagesReport:
    """``real``: the catalogue's own vectors and a fitted PCA (each more image mixes the
    product's vector with another product's) instead of synthetic vectors."""
    rng = np.random.default_rng(seed + 7)
    extras_per = images_per_product - 1
    if real:
        main, ids, attributes, projection = real_catalogue(rows, dims, seed)
        others = main[rng.integers(0, rows, size=rows * extras_per)] if extras_per else main[:0]
    else:
        main = synthetic_vectors(rows, seed)
        ids, attributes = catalogue_rows(rows)
        projection = random_projection(main, dims, seed)
        others = synthetic_vectors(rows * extras_per, seed + 11) if extras_per else main[:0]
    columns: dict[str, Sequence[object]] = {**attributes, "in_stock": [True] * rows}
    products = EmbeddingIndex.from_arrays(ids, main, attributes, projection=projection)  # in stock: all
    extra = np.empty((rows * extras_per, main.shape[1]), dtype=np.float32)
    for j in range(extras_per):
        extra[j::extras_per] = _normalised((1 - MIX) * main + MIX * others[j::extras_per])
    owners = np.repeat(np.asarray(ids, dtype=np.int64), extras_per)
    image_ids = np.arange(1, len(extra) + 1, dtype=np.int64)
    attrs = list(zip(*(columns.get(name) or [""] * rows for name in FILTER_FIELDS), strict=True))
    owner_rows = np.repeat(np.arange(rows), extras_per)

    def blocks() -> list[ImageRowBlock]:
        out = []
        for start in range(0, len(extra), BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, len(extra))
            row_attrs = [attrs[int(r)] for r in owner_rows[start:stop]]
            block = RowBlock(image_ids[start:stop], extra[start:stop], row_attrs)
            out.append(ImageRowBlock(block, owners[start:stop].tolist()))
        return out

    images = ImageRows(projection).fit(blocks())
    none = ImageRows(projection)
    row_of = {pid: i for i, pid in enumerate(ids)}

    def stored(product_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        return {pid: (main[row_of[pid]], None) for pid in product_ids}

    def stored_images(wanted: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        return {i: (extra[i - 1], None) for i in wanted}

    picks = rng.choice(rows, size=queries, replace=False)
    photos_one, photos_many = [], []
    for row in picks:
        noise = 0.01 * rng.standard_normal(main.shape[1], dtype=np.float32)
        photos_one.append(_normalised((main[row] + noise)[None])[0])
        which = int(rng.integers(0, images_per_product))
        source = main[row] if which == 0 else extra[row * extras_per + which - 1]
        photos_many.append(_normalised((source + noise)[None])[0])
    one = cast(SearchIndex, _PhotoIndex(products, none))
    many = cast(SearchIndex, _PhotoIndex(products, images))
    rank = partial(rank_photo, colour=None, k=K, filters={}, stored=stored, stored_images=stored_images)
    workdir = tempfile.TemporaryDirectory(prefix="bench-images-")
    faiss_products, faiss_images = artifact_serving(products, images, Path(workdir.name) / "v1", seed)
    served = cast(SearchIndex, _PhotoIndex(faiss_products, faiss_images))
    timings = timed_together(
        {
            "find_similar": [partial(products.similar_to_product, ids[int(r)], K) for r in picks],
            "one": [partial(rank, one, q) for q in photos_one],
            "many": [partial(rank, many, q) for q in photos_many],
            "artifact": [partial(rank, served, q) for q in photos_many],
        }
    )

    def first_share(index: SearchIndex, photos: list[np.ndarray]) -> float:
        found = [rank(index, q)[0].product_id == ids[int(r)] for q, r in zip(photos, picks, strict=True)]
        return sum(found) / len(found)

    first_artifact = first_share(served, photos_many)
    # Both structures of a process share one projection: counted once (with the products).
    shared = projection.mean.nbytes + projection.components.nbytes if projection is not None else 0
    artifact_bytes = (
        faiss_products.memory_bytes(),
        faiss_images.memory_bytes() - shared,
        faiss_products.mapped_bytes(),
        faiss_images.mapped_bytes(),
    )
    workdir.cleanup()
    return ImagesReport(
        real=real,
        rows=rows,
        dims=dims,
        images_per_product=images_per_product,
        image_rows=len(images),
        products_memory=IndexMemory(products.memory_bytes(), products.nbytes, len(products)),
        images_memory=IndexMemory(images.memory_bytes(), images.nbytes, len(images)),
        find_similar=timings["find_similar"],
        photo_one=timings["one"],
        photo_many=timings["many"],
        first_one=first_share(one, photos_one),
        first_many=first_share(many, photos_many),
        artifact_products_memory=artifact_bytes[0],
        artifact_images_memory=artifact_bytes[1],
        artifact_mapped_bytes=artifact_bytes[2],
        artifact_image_files_bytes=artifact_bytes[3],
        photo_artifact=timings["artifact"],
        first_artifact=first_artifact,
    )


def images_lines(report: ImagesReport) -> list[str]:
    n = report.images_per_product
    products_mb = report.products_memory.memory_bytes / 1e6
    images_mb = report.images_memory.memory_bytes / 1e6
    return [
        (
            f"# several images per product: the catalogue's own {report.rows} products × 2048 (stored vectors), "
            f"PCA-{report.dims} fitted on them; {n - 1} more image(s) per product synthesised = "
            f"{report.image_rows} image rows (0.7 main + 0.3 another product's vector)"
            if report.real
            else f"# several images per product: SYNTHETIC {report.rows} products × 2048 (bench_search's vectors, "
            f"real ids and attributes where the catalogue has them), PCA-{report.dims}; {n - 1} more image(s) per "
            f"product = {report.image_rows} image rows (0.7 main + 0.3 another vector)"
        ),
        f"index memory, products (find similar + photo search): {products_mb:.1f} MB, "
        f"{report.products_memory.rows} rows",
        f"index memory, more images (photo search only): {images_mb:.1f} MB, {report.image_rows} rows",
        f"index memory at {n} images per product / at 1: {report.memory_ratio:.2f}×",
        f"find similar, index step ms (the product index alone at any image count): {report.find_similar}",
        f"photo search ranking ms, 1 image per product: {report.photo_one}",
        f"photo search ranking ms, {n} images per product: {report.photo_many}",
        f"photo search ranking {n} / 1 image(s) per product: {report.photo_ratio:.2f}× (p50)",
        f"photographed product first: {100 * report.first_one:.1f}% at 1 image, {100 * report.first_many:.1f}% "
        f"at {n} (the photo of any of its images)",
        f"FAISS site ({vs_settings.FAISS_FACTORY}), own memory per process: products "
        f"{report.artifact_products_memory / 1e6:.1f} MB + more images {report.artifact_images_memory / 1e6:.1f} MB "
        f"(their projection, shared with the products, counted once; exact: {products_mb + images_mb:.1f} MB)",
        f"FAISS site, artifact files mapped (shared per host): {report.artifact_mapped_bytes / 1e6:.1f} MB, "
        f"of which the more images {report.artifact_image_files_bytes / 1e6:.1f} MB",
        f"photo search ranking ms, {n} images per product, FAISS site: {report.photo_artifact}",
        f"photographed product first, FAISS site: {100 * report.first_artifact:.1f}% at {n}",
    ]
