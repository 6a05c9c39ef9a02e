"""The figures similarity heads are measured, compared and activated on.

Find-similar precision on the fixed evaluation split (``visualsearch.ml.head.split_of``),
photo search's self-retrieval on held-out photos, and the one score heads compete on. Training
(``services/head_training.py``) and the admin read them; the lab's relevance report reuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import self_ranks
from visualsearch.selectors import stored_embeddings_load
from visualsearch.services.photo_pairs import EmbeddedPhotoSet

LABEL_FIELDS = ("article_type", "base_colour", "gender", "sub_category")
K = 5


@dataclass
class HeadData:
    """The searchable products in memory: ids, raw vectors, colour descriptors (NaN rows
    where none is stored) and labels."""

    ids: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray
    labels: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)


def head_data_load() -> HeadData:
    """The products the index serves (active, with a vector of the current backbone)."""
    from visualsearch.index.memory import served_model_versions

    stored = stored_embeddings_load(LABEL_FIELDS, served_model_versions())
    return HeadData(stored.ids, stored.vectors, stored.colours, {k: np.asarray(v) for k, v in stored.fields.items()})


def _joint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(a.astype(str), "\x1f"), b.astype(str))


def find_similar_figures(
    matrix: np.ndarray, labels: dict[str, np.ndarray], queries: np.ndarray, pool: np.ndarray
) -> dict[str, float]:
    """Find-similar precision of the rows ``queries`` searched among the rows ``pool`` (never
    themselves) by dot product of ``matrix`` rows: the figures the admin and evaluate show."""
    if len(queries) == 0 or len(pool) <= K:
        return {}
    local = {int(r): i for i, r in enumerate(pool)}
    exclude = np.asarray([local.get(int(q), -1) for q in queries], np.int64)
    found = pool[head_mod.knn_rows(matrix[pool], matrix[queries], K, exclude)]
    t, c, g = labels["article_type"], labels["base_colour"], labels["gender"]
    return {
        "p1_type": head_mod.precision_at(t, queries, found, 1),
        "p5_type": head_mod.precision_at(t, queries, found, K),
        "p5_sub": head_mod.precision_at(labels["sub_category"], queries, found, K),
        "p5_colour": head_mod.precision_at(c, queries, found, K),
        "p5_type_colour": head_mod.precision_at(_joint(t, c), queries, found, K),
        "p5_type_gender": head_mod.precision_at(_joint(t, g), queries, found, K),
        "queries": len(queries),
    }


def score(figures: dict[str, float], photo: dict[str, float] | None = None) -> float:
    """The one number heads are compared by: P@5 type + P@5 type∧colour (find similar's two
    targets), plus photo self@1 + self@5 (``photo``: ``photo_figures``) when measured."""
    photo = photo or {}
    return float(
        figures.get("p5_type", 0.0)
        + figures.get("p5_type_colour", 0.0)
        + photo.get("self_at_1", 0.0)
        + photo.get("self_at_5", 0.0)
    )


def raw_matrix(data: HeadData) -> np.ndarray:
    return head_mod.l2n(data.vectors)


def photo_figures(data: HeadData, model: head_mod.SimilarityModel | None, photos: EmbeddedPhotoSet) -> dict[str, float]:
    """Photo search's exact figures for held-out photos searched among the whole catalogue
    (each product scored by its best variant of the photo, as the site does): the model's
    learned space (+ its colour weight), or the raw vectors (+ the site's colour weight) for
    a model without one (or None)."""
    if len(photos) == 0:
        return {}
    raw = raw_matrix(data)
    projection = model.photo if model is not None else None
    into_space: Callable[[np.ndarray], np.ndarray]
    if projection is None:
        space, weight, into_space = raw, float(vs_settings.PHOTO_COLOUR_WEIGHT), head_mod.l2n
    else:
        space, weight, into_space = projection.apply(raw), projection.colour_weight, projection.apply
    (first, first_colours), *others = [(into_space(vectors), colours) for vectors, colours in photos.variants()]
    ranks = self_ranks(
        first,
        space,
        photos.rows,
        query_colours=first_colours,
        catalogue_colours=data.colours,
        colour_weight=weight,
        variants=others,
    )
    return {
        "self_at_1": float(np.mean(ranks < 1)),
        "self_at_5": float(np.mean(ranks < K)),
        "photos": len(photos),
    }


def evaluation_figures(data: HeadData, model: head_mod.SimilarityModel | None) -> dict[str, float]:
    """Find-similar figures on the evaluation split (queries: its labelled products; searched
    among the whole catalogue, as the site does), for a model or the raw vectors (None)."""
    split = head_mod.split_of(data.ids)
    queries = np.flatnonzero((split == "eval") & (data.labels["article_type"] != ""))
    pool = np.arange(len(data))
    raw = raw_matrix(data)
    matrix = raw if model is None else model.similar_vectors(raw, data.colours)
    return find_similar_figures(matrix, data.labels, queries, pool)
