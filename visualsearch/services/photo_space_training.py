"""Photo search's learned space, fitted with a similarity head: the training photos embedded
(``services/photo_pairs.py``), the space fitted on them (``visualsearch.ml.photo_projection``)
and its shrinkage, dimensions and colour weight chosen on the validation photos."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import LearnedWhitening, PhotoProjection, self_ranks
from visualsearch.services.head_figures import HeadData, K, raw_matrix
from visualsearch.services.photo_pairs import PhotoPairs, photo_pairs_embed


def _photo_score(ranks: np.ndarray) -> float:
    """Photo search's validation score: self@1 + self@5."""
    return float(np.mean(ranks < 1) + np.mean(ranks < K)) if len(ranks) else 0.0


def _rows_in(pool: np.ndarray, rows: np.ndarray) -> np.ndarray:
    local = {int(r): i for i, r in enumerate(pool)}
    return np.asarray([local[int(r)] for r in rows], np.int64)


def fit_photo_projection(
    data: HeadData, pairs: PhotoPairs, *, on_progress: Callable[[str], None] = lambda message: None
) -> tuple[PhotoProjection | None, dict[str, Any]]:
    """Photo search's learned space, fitted on the training photos; shrinkage, dimensions and
    colour weight chosen on the validation photos, searched among the products outside the
    evaluation split. None when there are too few training photos or when it does not beat
    the raw vectors (+ VISUALSEARCH_PHOTO_COLOUR_WEIGHT) on the validation photos."""
    train, validation = pairs.train, pairs.validation
    info: dict[str, Any] = {"training_photos": len(train), "validation_photos": len(validation)}
    if len(train) < int(vs_settings.HEAD_PHOTO_MIN_PAIRS) or len(validation) == 0:
        info["photo_space"] = f"not fitted: {len(train)} training photos (needed {vs_settings.HEAD_PHOTO_MIN_PAIRS})"
        return None, info
    split = head_mod.split_of(data.ids)
    pool = np.flatnonzero(split != "eval")
    spread_rows = np.flatnonzero(split == "train")
    raw = raw_matrix(data)
    true = _rows_in(pool, validation.rows)
    colours = data.colours[pool]
    raw_weight = float(vs_settings.PHOTO_COLOUR_WEIGHT)
    raw_ranks = self_ranks(
        validation.vectors,
        raw[pool],
        true,
        query_colours=validation.colours,
        catalogue_colours=colours,
        colour_weight=raw_weight,
    )
    best: dict[str, Any] = {"score": _photo_score(raw_ranks), "projection": None}
    info["validation_raw_score"] = round(best["score"], 4)
    scores: dict[str, float] = {}
    fit = LearnedWhitening(train.vectors, raw[train.rows], raw[spread_rows])
    for shrinkage in vs_settings.HEAD_PHOTO_SHRINKAGE:
        for dims in vs_settings.HEAD_PHOTO_DIMS:
            projection = fit.projection(shrinkage=float(shrinkage), dims=int(dims))
            space, queries = projection.apply(raw[pool]), projection.apply(validation.vectors)
            for weight in vs_settings.HEAD_PHOTO_COLOUR_WEIGHTS:
                ranks = self_ranks(
                    queries,
                    space,
                    true,
                    query_colours=validation.colours,
                    catalogue_colours=colours,
                    colour_weight=float(weight),
                )
                value = _photo_score(ranks)
                scores[f"{shrinkage}/{dims}/{weight}"] = round(value, 4)
                if value > best["score"]:
                    projection.colour_weight = float(weight)
                    best = {"score": value, "projection": projection}
            on_progress(
                f"photo space shrinkage {shrinkage}, {dims} dims: validation self@1+self@5 {max(scores.values()):.3f}"
            )
    chosen: PhotoProjection | None = best["projection"]
    info["photo_validation_scores"] = scores
    info["photo_space"] = (
        f"shrinkage {chosen.shrinkage}, {chosen.dims} dims, colour weight {chosen.colour_weight}"
        if chosen is not None
        else "not used: the raw vectors did as well on the validation photos"
    )
    return chosen, info


def head_photos_embed(
    data: HeadData, count: int | None = None, on_progress: Callable[[str], None] = lambda message: None
) -> PhotoPairs | None:
    """``count`` training photos (default VISUALSEARCH_HEAD_PHOTO_PAIRS) with the validation
    and evaluation photos (HEAD_PHOTO_VALIDATION, _EVALUATION); None for 0 training photos."""
    count = int(vs_settings.HEAD_PHOTO_PAIRS if count is None else count)
    if count <= 0:
        return None
    return photo_pairs_embed(
        data.ids,
        train=count,
        validation=int(vs_settings.HEAD_PHOTO_VALIDATION),
        evaluation=int(vs_settings.HEAD_PHOTO_EVALUATION),
        scenes=int(vs_settings.HEAD_PHOTO_SCENES),
        validation_scenes=int(vs_settings.HEAD_PHOTO_VALIDATION_SCENES),
        on_progress=on_progress,
    )
