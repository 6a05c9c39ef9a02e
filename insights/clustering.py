"""Grouping "nothing close" photos by look: agglomerative clustering of their vectors by cosine
distance (average linkage, cut at a distance, so the number of themes follows the data). Plain
arrays in, labels out; no Django."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering


def themes_cluster(vectors: np.ndarray, *, distance: float) -> np.ndarray:
    """A theme label per row (0 = the largest theme, then by size). One row: one theme."""
    rows = np.asarray(vectors, dtype=np.float32)
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(rows) == 1:
        return np.zeros(1, dtype=np.int64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms == 0, 1.0, norms)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    ).fit_predict(unit)
    # Renumber by size, largest first, so that theme 0 is what shoppers photograph most.
    counts = np.bincount(labels)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels].astype(np.int64)
