"""Looking inside an index from tests: the stored (projected, normalised) vector and filter
attributes of a product, through the index's inspection methods."""

from __future__ import annotations

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS
from visualsearch.index.loading import LiveIndex
from visualsearch.index.memory import EmbeddingIndex


def stored_vector(index: EmbeddingIndex | LiveIndex, product_id: int) -> np.ndarray:
    return index.vector_of(product_id)


def stored_attributes(index: EmbeddingIndex | LiveIndex, product_id: int) -> dict[str, str]:
    attributes = index.attributes_of(product_id)
    return {name: attributes[name] for name in SEARCHABLE_FIELDS}
