"""Photo search's rows for products' more images (``shop.ProductImage``), next to the index of
their main images.

A data structure, like the exact index it wraps: an ``EmbeddingIndex`` keyed by image id, in
photo search's space only (no find-similar matrix: find similar keeps using the main image,
one row per product, so its memory and latency do not grow with the gallery), and which
product each image shows. ``visualsearch.index.loading.LiveIndex`` fills it next to the
product index and keeps it fresh from the same change log, product by product: a product's
change replaces all its image rows. Filters apply as in the product index (each image row
carries its product's attributes and stock).

A search answers image hits (``ImageHit``: the image, its product, the score);
``visualsearch.query.ranking`` re-scores them with the stored vectors and collapses them with
the main images' hits to one per product, scored by its best photo.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualsearch.index.base import ImageHit
from visualsearch.index.memory import ActiveHead, EmbeddingIndex, RowBlock
from visualsearch.index.projection import ProjectionData


@dataclass(frozen=True)
class ImageRowBlock:
    """Rows of more images: ``rows`` (image ids, raw vectors, attributes in ``FILTER_FIELDS``
    order) and the product of each row."""

    rows: RowBlock
    product_ids: Sequence[int]


class ImageRows:
    """The more images of the indexed products, searchable by a raw query vector."""

    def __init__(self, projection: ProjectionData | None = None, head: ActiveHead | None = None) -> None:
        self._index = EmbeddingIndex(projection, head, similar_space=False)
        self._product_of: dict[int, int] = {}
        self._images_of: dict[int, list[int]] = {}

    def fit(self, blocks: Iterable[ImageRowBlock]) -> ImageRows:
        """(Re)build from blocks of rows; returns itself."""
        self._product_of = {}
        self._images_of = {}

        def tracked() -> Iterator[RowBlock]:
            for block in blocks:
                for image_id, product_id in zip(block.rows.ids, block.product_ids, strict=True):
                    self._product_of[int(image_id)] = int(product_id)
                    self._images_of.setdefault(int(product_id), []).append(int(image_id))
                yield block.rows

        self._index.fit(tracked())
        return self

    # --- changing ---------------------------------------------------------------------------

    def replace_product(self, product_id: int, rows: Sequence[tuple[int, np.ndarray, Sequence[Any]]]) -> None:
        """The product's more images are now these rows (image id, raw vector, attributes);
        its other image rows leave the index."""
        keep = {image_id for image_id, _vector, _attrs in rows}
        for image_id in self._images_of.pop(product_id, []):
            if image_id not in keep:
                self._index.remove(image_id)
                self._product_of.pop(image_id, None)
        for image_id, vector, attributes in rows:
            self._index.upsert(image_id, vector, attributes)
            self._product_of[image_id] = product_id
        if rows:
            self._images_of[product_id] = sorted(keep)

    def remove_product(self, product_id: int) -> None:
        self.replace_product(product_id, [])

    # --- inspecting -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def images_of(self, product_id: int) -> list[int]:
        """The indexed more images of a product (image ids, ascending)."""
        return list(self._images_of.get(product_id, []))

    @property
    def nbytes(self) -> int:
        return self._index.nbytes

    def memory_bytes(self) -> int:
        """The rows' arrays and the image ↔ product maps (an estimate of the Python objects)."""
        maps = sys.getsizeof(self._product_of) + sys.getsizeof(self._images_of)
        maps += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._product_of.items())
        maps += sum(sys.getsizeof(v) for v in self._images_of.values())
        return self._index.memory_bytes() + maps

    # --- searching --------------------------------------------------------------------------

    def similar_to_vector(
        self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None
    ) -> list[ImageHit]:
        """The k images nearest a raw (2048-dim) query, best first (several may show the same
        product: the ranking collapses them)."""
        if not len(self._index):
            return []
        hits = self._index.similar_to_vector(vector, k, filters)
        return [ImageHit(h.product_id, self._product_of[h.product_id], h.score) for h in hits]
