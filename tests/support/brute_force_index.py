"""A second SearchIndex: no memory, no projection, reads every vector from the database on
each query. Slow and trivial on purpose: it proves that VISUALSEARCH_INDEX_CLASS is a real
seam (the search services and views use only the protocol's members)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS, STOCK_FIELD
from shop.selectors import product_in_stock_expression
from visualsearch.index.base import Hit, NotIndexed
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import ProductEmbedding

FIELDS = (*SEARCHABLE_FIELDS, STOCK_FIELD)


class BruteForceIndex:
    projected = False
    head_version = None  # no similarity head: find similar ranks by the raw vectors
    photo_projection = None  # nor a learned photo space: photo search ranks by the raw vectors
    model_version = MODEL_VERSION

    def _rows(self) -> list[tuple]:
        return list(
            ProductEmbedding.objects.filter(product__is_active=True, vector__isnull=False, model_version=MODEL_VERSION)
            .annotate(**{STOCK_FIELD: product_in_stock_expression("product_id")})
            .order_by("product_id")
            .values_list("product_id", "vector", *(f"product__{name}" for name in SEARCHABLE_FIELDS), STOCK_FIELD)
        )

    def __len__(self) -> int:
        return len(self._rows())

    def ensure_fresh(self) -> None:
        return None

    def memory_bytes(self) -> int:
        return 0

    def filter_values(self) -> dict[str, list[str]]:
        rows = self._rows()
        return {name: sorted({row[2 + i] for row in rows if row[2 + i]}) for i, name in enumerate(FIELDS)}

    def _search(self, query: np.ndarray, k: int, filters: Mapping[str, object], exclude: int | None) -> list[Hit]:
        hits = []
        for row in self._rows():
            attributes = dict(zip(FIELDS, row[2:], strict=True))
            if row[0] == exclude or any(attributes[name] != value for name, value in filters.items()):
                continue
            hits.append(Hit(row[0], float(np.frombuffer(bytes(row[1]), dtype="<f4") @ query)))
        return sorted(hits, key=lambda hit: -hit.score)[:k]

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        row = ProductEmbedding.objects.filter(product_id=product_id, vector__isnull=False).first()
        if row is None:
            raise NotIndexed(product_id)
        return self._search(np.frombuffer(bytes(row.vector), dtype="<f4"), k, filters or {}, exclude=product_id)

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        return self._search(np.asarray(vector, dtype=np.float32), k, filters or {}, exclude=None)
