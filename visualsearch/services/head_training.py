"""Training a similarity head (``visualsearch.ml.head``) and photo search's learned space.

``head_train`` trains on the stored vectors and the products' labels only (no image is
embedded again), on the products OUTSIDE the fixed evaluation split (a hash of the product
id: ``visualsearch.ml.head.split_of``, stable as the catalogue grows). Epochs and the colour
weight are picked on the validation part of the training products; the figures stored with
the head are measured on the evaluation split (``services/head_figures.py``); the new head is
activated only if it beats the active one (or the raw backbone, when none is active) on that
split.

With VISUALSEARCH_HEAD_PHOTO_PAIRS training photos (photo-like copies of training
products, embedded by the real model: ``services/photo_pairs.py``) the head also carries
photo search's learned space (``visualsearch.ml.photo_projection``), its shrinkage,
dimensions and colour weight picked on validation photos, kept only when it beats the raw
vectors there; its held-out photo figures are stored with the head.

A catalogue without enough labels keeps the raw vectors: ``NotEnoughLabels``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import LearnedWhitening, PhotoProjection, self_ranks
from visualsearch.models import SimilarityHead
from visualsearch.selectors import head_active
from visualsearch.services.head_figures import (
    HeadData,
    K,
    evaluation_figures,
    find_similar_figures,
    head_data_load,
    photo_figures,
    raw_matrix,
    score,
)
from visualsearch.services.heads import head_activate
from visualsearch.services.photo_pairs import PhotoPairs, photo_pairs_embed

logger = logging.getLogger(__name__)

VALIDATION_QUERIES = 2000


class NotEnoughLabels(ValueError):
    """Too few labelled products (or too few per class) to train a similarity head."""


@dataclass
class TrainingResult:
    head: SimilarityHead
    activated: bool
    reason: str


def _check_labels(codes: np.ndarray, classes: list[str]) -> None:
    labelled = int(np.count_nonzero(codes >= 0))
    if len(classes) < 2 or labelled < int(vs_settings.HEAD_MIN_LABELLED):
        raise NotEnoughLabels(
            f"Too few labelled products to train a similarity head: {labelled} training products in "
            f"{len(classes)} article types with at least {vs_settings.HEAD_MIN_PER_CLASS} products each "
            f"(needed: {vs_settings.HEAD_MIN_LABELLED} in 2 or more). Find similar keeps the raw vectors."
        )


def fit_similarity_model(
    data: HeadData,
    *,
    params: head_mod.HeadParams | None = None,
    colour_weights: tuple[float, ...] | None = None,
    on_progress: Callable[[str], None] = lambda message: None,
) -> tuple[head_mod.SimilarityModel, dict[str, Any]]:
    """Train a head + colour model on the training products, choosing the epoch and the
    colour weight on the validation products (searched among training + validation
    products: the evaluation split is never looked at here)."""
    params = params or head_mod.HeadParams(epochs=int(vs_settings.HEAD_EPOCHS))
    colour_weights = colour_weights or tuple(vs_settings.HEAD_COLOUR_WEIGHTS)
    split = head_mod.split_of(data.ids)
    train = np.flatnonzero(split == "train")
    val = np.flatnonzero(split == "val")
    seen = np.flatnonzero(split != "eval")
    min_count = int(vs_settings.HEAD_MIN_PER_CLASS)
    type_codes = np.full(len(data), -1, np.int64)
    codes, classes = head_mod.encode_labels(list(data.labels["article_type"][train]), min_count)
    type_codes[train] = codes
    _check_labels(codes, classes)
    aux = []
    for name in vs_settings.HEAD_AUX_LABELS:
        aux_codes = np.full(len(data), -1, np.int64)
        aux_codes[train] = head_mod.encode_labels(list(data.labels[name][train]), min_count)[0]
        aux.append(aux_codes)
    raw = raw_matrix(data)
    started = time.perf_counter()
    # Train on the top principal components (fitted on training products), folded back into
    # the first layer at the end: 4× less work per epoch, the same head to apply.
    mean, basis = head_mod.pca_basis(raw[train], params.input_dims, seed=params.seed)
    reduced = (raw - mean) @ basis
    val_queries = val[data.labels["article_type"][val] != ""]
    if len(val_queries) > VALIDATION_QUERIES:  # a fixed subset keeps each check quick
        val_queries = np.sort(np.random.default_rng(0).choice(val_queries, VALIDATION_QUERIES, replace=False))
    history: list[tuple[int, float]] = []
    best: dict[str, Any] = {"score": -1.0, "head": None, "epoch": 0}
    every = max(1, params.epochs // 6)

    def on_epoch(epoch: int, head: head_mod.Head) -> bool:
        if epoch % every and epoch != params.epochs:
            return False
        if len(val_queries) == 0:
            best.update(head=head.copy(), epoch=epoch)
            return False
        figures = find_similar_figures(head.apply(reduced), data.labels, val_queries, seen)
        value = figures["p5_type"]
        history.append((epoch, round(value, 4)))
        on_progress(f"epoch {epoch}: validation P@5 type {value:.3f}")
        if value > best["score"]:
            best.update(score=value, epoch=epoch, head=head.copy())
        return False

    head_mod.train_head(reduced[train], type_codes[train], [a[train] for a in aux], params, on_epoch=on_epoch)
    head: head_mod.Head = best["head"].fold(mean, basis)
    head_seconds = time.perf_counter() - started
    colour_model = None
    known = np.isfinite(data.colours).all(axis=1)
    colour_train = train[known[train]]
    colour_codes, colour_classes = head_mod.encode_labels(list(data.labels["base_colour"][colour_train]), min_count)
    if len(colour_classes) >= 2 and np.count_nonzero(colour_codes >= 0) >= int(vs_settings.HEAD_MIN_LABELLED):
        colour_model = head_mod.train_colour_model(
            data.colours[colour_train], raw[colour_train], colour_codes, colour_classes, seed=params.seed
        )
    chosen_weight, weight_scores = 0.0, {}
    if colour_model is not None and len(val_queries):
        for weight in colour_weights:
            model = head_mod.SimilarityModel(head, colour_model, weight)
            figures = find_similar_figures(model.similar_vectors(raw, data.colours), data.labels, val_queries, seen)
            weight_scores[str(weight)] = round(score(figures), 4)
            on_progress(f"colour weight {weight}: validation score {score(figures):.3f}")
        chosen_weight = float(max(weight_scores, key=lambda w: weight_scores[w]))
    model = head_mod.SimilarityModel(head, colour_model, chosen_weight)
    info = {
        "epoch": best["epoch"],
        "validation_p5_type": history,
        "colour_weight_scores": weight_scores,
        "colour_weight": chosen_weight,
        "train_products": len(train),
        "validation_products": len(val),
        "article_types": len(classes),
        "colour_classes": len(colour_classes) if colour_model is not None else 0,
        "head_seconds": round(head_seconds, 1),
        "params": {k: getattr(params, k) for k in params.__dataclass_fields__},
    }
    model.info = info
    return model, info


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
        on_progress=on_progress,
    )


def head_train(
    *,
    data: HeadData | None = None,
    photos: PhotoPairs | None = None,
    photo_count: int | None = None,
    activate: bool = True,
    params: head_mod.HeadParams | None = None,
    on_progress: Callable[[str], None] = lambda message: None,
) -> TrainingResult:
    """Train, measure and store a new head; activate it if it beats the active one (or the
    raw backbone when none is active). Raises NotEnoughLabels for an unlabelled catalogue.
    ``photos``: the photos for photo search's learned space (default: ``photo_count``
    training photos embedded here, see ``head_photos_embed``)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    started = time.perf_counter()
    data = head_data_load() if data is None else data
    on_progress(f"{len(data)} products loaded")
    model, info = fit_similarity_model(data, params=params, on_progress=on_progress)
    photo_started = time.perf_counter()
    photos = head_photos_embed(data, photo_count, on_progress) if photos is None else photos
    if photos is not None:
        model.photo, photo_info = fit_photo_projection(data, photos, on_progress=on_progress)
        photo_info["photo_seconds"] = round(time.perf_counter() - photo_started, 1)
        info.update(photo_info)
        model.info = info
    seconds = time.perf_counter() - started
    figures = evaluation_figures(data, model)
    raw_figures = evaluation_figures(data, None)
    active = head_active()
    active_model = head_mod.SimilarityModel.from_bytes(active.weights) if active is not None else None
    baseline_name, baseline = "the raw backbone", raw_figures
    if active_model is not None:
        assert active is not None
        baseline_name = f"the active head v{active.pk}"
        baseline = evaluation_figures(data, active_model)
    photo_metrics: dict[str, Any] = {}
    for profile, held_out in (photos.evaluation if photos is not None else {}).items():
        photo_metrics[profile] = {
            "raw": photo_figures(data, None, held_out),
            "head": photo_figures(data, model, held_out),
        }
    # Photo search counts too, when there are held-out photos: the same photos searched by
    # the new head's space and by the baseline's (the active head's, or the raw vectors).
    standard = photos.evaluation.get("standard") if photos is not None else None
    new_photo = photo_metrics.get("standard", {}).get("head", {})
    baseline_photo = photo_metrics.get("standard", {}).get("raw", {})
    if standard is not None and active_model is not None:
        baseline_photo = photo_figures(data, active_model, standard)
    new_score, baseline_score = score(figures, new_photo), score(baseline, baseline_photo)
    blob = model.to_bytes()
    better = new_score > baseline_score
    measured = f"P@5 type + P@5 type∧colour on {figures.get('queries', 0)} held-out products"
    if new_photo:
        measured += f" + photo self@1 + self@5 on {new_photo['photos']} held-out photos"
    reason = (
        f"score {new_score:.3f} ({measured}) "
        f"{'beats' if better else 'does not beat'} {baseline_name}'s {baseline_score:.3f}"
    )
    row = SimilarityHead.objects.create(
        backbone_version=MODEL_VERSION,
        weights=blob,
        metrics={
            "eval": figures,
            "raw": raw_figures,
            "baseline": baseline,
            "baseline_name": baseline_name,
            "photos": photo_metrics,
        },
        params=info,
        training_seconds=round(seconds, 1),
        size_bytes=len(blob),
        trained_on=int(info["train_products"]),
        note=reason,
    )
    on_progress(reason)
    activated = False
    if activate and better:
        row = head_activate(row)
        activated = True
    logger.info("similarity head v%s trained in %.0f s: %s", row.pk, seconds, reason)
    return TrainingResult(row, activated, reason)
