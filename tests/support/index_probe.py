"""Looking inside an EmbeddingIndex from tests: its stored (projected, normalised) vector and
filter attributes of a product. Test-only, so it reads the index's private arrays rather than
widening the production class."""

from __future__ import annotations

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS
from visualsearch.index.base import NotIndexed
from visualsearch.index.memory import EmbeddingIndex


def _row(index: EmbeddingIndex, product_id: int) -> int:
    index.ensure_fresh()
    row = index._row_of.get(product_id)
    if row is None:
        raise NotIndexed(product_id)
    return row


def stored_vector(index: EmbeddingIndex, product_id: int) -> np.ndarray:
    with index._lock:
        return index._matrix[_row(index, product_id)].copy()


def stored_attributes(index: EmbeddingIndex, product_id: int) -> dict[str, str]:
    with index._lock:
        row = _row(index, product_id)
        return {name: index._values[name][int(index._codes[name][row])] for name in SEARCHABLE_FIELDS}
