"""The PCA projection the index stores vectors in (2048 → VISUALSEARCH_INDEX_DIMS).

A fitted projection (``ProjectionData``) is applied here; it is fitted by
``visualsearch.services.projection`` once per model version on a sample of the stored
embeddings and kept in the database, so every process projects identically. Before enough
embeddings exist to fit one (VISUALSEARCH_PCA_MIN_ROWS), the index keeps full 2048-dim vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from visualsearch.conf import vs_settings
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import Projection


@dataclass(frozen=True)
class ProjectionData:
    pk: int
    dims: int
    mean: np.ndarray  # (2048,)
    components: np.ndarray  # (dims, 2048)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.mean) @ self.components.T

    @classmethod
    def from_model(cls, row: Projection) -> ProjectionData:
        mean = np.frombuffer(bytes(row.mean), dtype="<f4")
        components = np.frombuffer(bytes(row.components), dtype="<f4").reshape(row.dims, -1)
        return cls(row.pk, row.dims, mean.astype(np.float32), np.ascontiguousarray(components, dtype=np.float32))


def projection_dims_wanted() -> int:
    """VISUALSEARCH_INDEX_DIMS (0 or less: no projection)."""
    return int(vs_settings.INDEX_DIMS)


def projection_current_rows() -> QuerySet[Projection]:
    """The stored projection rows for the current model and VISUALSEARCH_INDEX_DIMS (one at most)."""
    return Projection.objects.filter(model_version=MODEL_VERSION, dims=projection_dims_wanted())


def projection_current_id() -> int | None:
    if projection_dims_wanted() <= 0:
        return None
    return projection_current_rows().values_list("pk", flat=True).first()


def projection_current() -> ProjectionData | None:
    if projection_dims_wanted() <= 0:
        return None
    row = projection_current_rows().first()
    return ProjectionData.from_model(row) if row else None
