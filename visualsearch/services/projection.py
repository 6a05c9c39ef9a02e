"""Fitting the PCA projection the index stores vectors in (visualsearch.index.projection).

``projection_fit`` fits it once per model version on a sample of the stored embeddings and
stores it, so every process projects identically (the indexes see a new projection id and
reload). ``projection_fit_vectors`` fits one in memory only, for evaluations and experiments.
"""

from __future__ import annotations

import logging

import numpy as np
from django.db import IntegrityError, transaction

from visualsearch.conf import vs_settings
from visualsearch.index.projection import ProjectionData, projection_current_rows, projection_dims_wanted
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, Projection

logger = logging.getLogger(__name__)
SAMPLE_ROWS = 20_000


def projection_fit(*, min_rows: int | None = None, refit: bool = False, seed: int = 0) -> Projection | None:
    """Fit and store the projection when enough embeddings exist; returns it (or None)."""
    from sklearn.decomposition import PCA

    dims = projection_dims_wanted()
    if dims <= 0:
        return None
    existing = projection_current_rows().first()
    if existing and not refit:
        return existing
    min_rows = vs_settings.PCA_MIN_ROWS if min_rows is None else min_rows
    rows = ProductEmbedding.objects.filter(
        status=EmbeddingStatus.DONE, model_version=MODEL_VERSION, vector__isnull=False
    )
    count = rows.count()
    if count < max(min_rows, dims * 2):
        return existing
    if existing and existing.fitted_on >= 0.8 * min(SAMPLE_ROWS, count):
        return existing  # a refit on about the same rows would only make every process reload
    ids = np.asarray(rows.values_list("product_id", flat=True), dtype=np.int64)
    rng = np.random.default_rng(seed)
    sample = rng.choice(ids, size=min(SAMPLE_ROWS, len(ids)), replace=False)
    sampled = rows.filter(product_id__in=sample.tolist()).values_list("vector", flat=True)
    raw = b"".join(bytes(v) for v in sampled if v is not None)  # never None: the rows are filtered on it
    vectors = np.frombuffer(raw, dtype="<f4").reshape(-1, 2048)
    pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed).fit(vectors)
    fields = {
        "mean": pca.mean_.astype("<f4").tobytes(),
        "components": pca.components_.astype("<f4").tobytes(),
        "fitted_on": len(vectors),
        "explained_variance": float(pca.explained_variance_ratio_.sum()),
    }
    try:
        with transaction.atomic():
            if existing:
                existing.delete()  # the indexes see a new projection id and reload
            row = Projection.objects.create(model_version=MODEL_VERSION, dims=dims, **fields)
    except IntegrityError:  # another process fitted it at the same time
        return projection_current_rows().first()
    logger.info("fitted PCA %d on %d embeddings (%.1f%% variance)", dims, len(vectors), 100 * row.explained_variance)
    return row


def projection_fit_vectors(vectors: np.ndarray, dims: int, *, seed: int = 0) -> tuple[ProjectionData, float]:
    """A PCA-``dims`` projection fitted on these raw (N, 2048) vectors in memory only (nothing
    is stored, so no process reloads; its pk is 0), with the share of the variance it keeps.
    For evaluations and experiments; the site's projection comes from ``projection_fit``."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed).fit(np.asarray(vectors, np.float32))
    data = ProjectionData(
        0, dims, pca.mean_.astype(np.float32), np.ascontiguousarray(pca.components_, dtype=np.float32)
    )
    return data, float(pca.explained_variance_ratio_.sum())
