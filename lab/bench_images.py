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
  how often the photographed product is the first hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

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
from visualsearch.index.base import Hit, ImageHit, SearchIndex
from visualsearch.index.images import ImageRowBlock, ImageRows
from visualsearch.index.memory import BLOCK_ROWS, FILTER_FIELDS, EmbeddingIndex, RowBlock
from visualsearch.ml.photo_projection import PhotoProjection
from visualsearch.query.ranking import rank_photo

MIX = 0.3  # how far a more image is from its product's main image


class _PhotoIndex:
    """What ``rank_photo`` needs of the live index, over the two structures (as
    ``loading.LiveIndex`` serves them), without the database."""

    photo_projection: PhotoProjection | None = None

    def __init__(self, products: EmbeddingIndex, images: ImageRows) -> None:
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


def images_benchmark(rows: int, images_per_product: int, queries: int, seed: int, dims: int) -> ImagesReport:
    main = synthetic_vectors(rows, seed)
    ids, attributes = catalogue_rows(rows)
    columns: dict[str, Sequence[object]] = {**attributes, "in_stock": [True] * rows}
    projection = random_projection(main, dims, seed)
    products = EmbeddingIndex.from_arrays(ids, main, attributes, projection=projection)  # in stock: all
    extras_per = images_per_product - 1
    rng = np.random.default_rng(seed + 7)
    extra = np.empty((rows * extras_per, main.shape[1]), dtype=np.float32)
    others = synthetic_vectors(rows * extras_per, seed + 11) if extras_per else extra
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
    timings = timed_together(
        {
            "find_similar": [partial(products.similar_to_product, ids[int(r)], K) for r in picks],
            "one": [partial(rank, one, q) for q in photos_one],
            "many": [partial(rank, many, q) for q in photos_many],
        }
    )

    def first_share(index: SearchIndex, photos: list[np.ndarray]) -> float:
        found = [rank(index, q)[0].product_id == ids[int(r)] for q, r in zip(photos, picks, strict=True)]
        return sum(found) / len(found)

    return ImagesReport(
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
    )


def images_lines(report: ImagesReport) -> list[str]:
    n = report.images_per_product
    products_mb = report.products_memory.memory_bytes / 1e6
    images_mb = report.images_memory.memory_bytes / 1e6
    return [
        f"# several images per product: SYNTHETIC {report.rows} products × 2048 (bench_search's vectors, real ids "
        f"and attributes where the catalogue has them), PCA-{report.dims}; {n - 1} more image(s) per product = "
        f"{report.image_rows} image rows (0.7 main + 0.3 another vector)",
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
    ]
