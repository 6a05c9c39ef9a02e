"""Training a similarity head (``visualsearch.ml.head``) and photo search's learned space.

``head_train`` trains on the stored vectors and the products' labels only (no image is
embedded again), on the products OUTSIDE the fixed evaluation split (a hash of the product
id: ``visualsearch.ml.head.split_of``, stable as the catalogue grows). Epochs and the colour
weight are picked on the validation part of the training products; the figures stored with
the head are measured on the evaluation split (``services/head_figures.py``); the new head is
activated only with evidence that it beats the active one (or the raw backbone, when none is
active) on that split beyond noise, and lowers none of the headline figures beyond theirs
(``services/head_evidence.py``). A retrain on unchanged data and settings (the same
fingerprint: ``training_fingerprint``) reuses the head it made before instead of adding a copy.

With VISUALSEARCH_HEAD_PHOTO_PAIRS training photos (photo-like copies of training
products, embedded by the real model: ``services/photo_pairs.py``) the head also carries
photo search's learned space (``visualsearch.ml.photo_projection``), its shrinkage,
dimensions and colour weight picked on validation photos, kept only when it beats the raw
vectors there; its held-out photo figures are stored with the head.

A catalogue without enough labels keeps the raw vectors: ``NotEnoughLabels``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualsearch.conf import VisualSearchSettings, vs_settings
from visualsearch.ml import head as head_mod
from visualsearch.models import SimilarityHead
from visualsearch.selectors import head_active
from visualsearch.services.head_evidence import head_decide, paired_bootstrap
from visualsearch.services.head_figures import (
    HeadData,
    evaluation_queries,
    figures_mean,
    find_similar_figures,
    find_similar_found,
    find_similar_per_query,
    head_data_load,
    head_data_twins,
    photo_per_photo,
    raw_matrix,
    score,
    similar_matrix,
)
from visualsearch.services.heads import head_activate
from visualsearch.services.photo_pairs import PhotoPairs
from visualsearch.services.photo_space_training import fit_photo_projection, head_photos_embed

logger = logging.getLogger(__name__)

VALIDATION_QUERIES = 2000


class NotEnoughLabels(ValueError):
    """Too few labelled products (or too few per class) to train a similarity head."""


class TrainingCancelled(Exception):
    """Raised by a progress callback to stop a training (staff pressed Cancel)."""


@dataclass
class TrainingResult:
    head: SimilarityHead
    activated: bool
    reason: str
    reused: bool = False
    twins: dict[str, int] | None = None


def _no_fraction(fraction: float) -> None:
    pass


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
    on_fraction: Callable[[float], None] = _no_fraction,
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
        on_fraction(0.9 * epoch / max(params.epochs, 1))
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


_EMBEDDED = re.compile(r"^(?P<label>.+): (?P<done>\d+)/(?P<total>\d+) embedded$")


class _PhotoProgress:
    """The share of photo embedding done, from photo_pairs' "<label>: n/m embedded" messages."""

    def __init__(self, expected: int, on_progress: Callable[[str], None], on_fraction: Callable[[float], None]) -> None:
        self.expected = max(expected, 1)
        self.done: dict[str, int] = {}
        self.on_progress, self.on_fraction = on_progress, on_fraction

    def __call__(self, message: str) -> None:
        self.on_progress(message)
        if match := _EMBEDDED.match(message):
            self.done[match["label"]] = int(match["done"])
            self.on_fraction(min(sum(self.done.values()) / self.expected, 1.0))


def _scaled(on_fraction: Callable[[float], None], start: float, stop: float) -> Callable[[float], None]:
    return lambda fraction: on_fraction(start + (stop - start) * min(max(fraction, 0.0), 1.0))


def training_fingerprint(
    data: HeadData, params: head_mod.HeadParams | None, photo_count: int, photos: PhotoPairs | None
) -> str:
    """sha256 of what a training reads and is set up with: the backbone, every product's id,
    vector, colour descriptor and labels, the training parameters and settings. Equal
    fingerprints make equal heads: the retrain reuses the head instead of adding a copy."""
    from visualsearch.ml.embedder import MODEL_VERSION

    digest = hashlib.sha256()
    digest.update(MODEL_VERSION.encode())
    for array in (data.ids, data.vectors, data.colours):
        digest.update(np.ascontiguousarray(array).tobytes())
    for name in sorted(data.labels):
        digest.update(name.encode() + b"\x1e" + "\x1f".join(map(str, data.labels[name])).encode())
    params = params or head_mod.HeadParams(epochs=int(vs_settings.HEAD_EPOCHS))
    digest.update(repr(sorted((k, getattr(params, k)) for k in params.__dataclass_fields__)).encode())
    names = sorted(f.name for f in dataclasses.fields(VisualSearchSettings) if f.name.startswith(("HEAD_", "PHOTO_")))
    digest.update(repr([(name, getattr(vs_settings, name)) for name in names]).encode())
    digest.update(str(photo_count).encode())
    if photos is not None:  # photos handed in (tests, the lab): what they are
        for part in (photos.train, photos.validation, *photos.evaluation.values()):
            digest.update(part.rows.tobytes() + np.ascontiguousarray(part.vectors).tobytes())
    return digest.hexdigest()


def head_examples(
    data: HeadData,
    before: np.ndarray,
    after: np.ndarray,
    before_p5: np.ndarray,
    after_p5: np.ndarray,
    count: int | None = None,
) -> list[dict[str, Any]]:
    """A few held-out products with their 5 lookalikes by ``before`` and ``after`` (the rows
    find similar ranks by): those whose share of the same kind rose most, then those whose
    share fell most (what changes, both ways), as product ids."""
    count = int(vs_settings.HEAD_EXAMPLES if count is None else count)
    queries = evaluation_queries(data)
    if count <= 0 or len(queries) == 0:
        return []
    change = after_p5 - before_p5
    order = np.argsort(-change, kind="stable")
    rose = [int(i) for i in order if change[i] > 0][: (count + 1) // 2]
    fell = [int(i) for i in order[::-1] if change[i] < 0][: count - len(rose)]
    chosen = rose + fell
    if len(chosen) < count:  # too few changed: fill with unchanged ones
        chosen += [int(i) for i in range(len(queries)) if int(i) not in chosen][: count - len(chosen)]
    rows = queries[chosen]
    pool = np.arange(len(data))
    found_before, found_after = find_similar_found(before, rows, pool), find_similar_found(after, rows, pool)
    return [
        {
            "product": int(data.ids[row]),
            "before": [int(data.ids[r]) for r in found_before[n]],
            "after": [int(data.ids[r]) for r in found_after[n]],
        }
        for n, row in enumerate(rows)
    ]


def head_train(
    *,
    data: HeadData | None = None,
    photos: PhotoPairs | None = None,
    photo_count: int | None = None,
    activate: bool = True,
    params: head_mod.HeadParams | None = None,
    on_progress: Callable[[str], None] = lambda message: None,
    on_fraction: Callable[[float], None] = _no_fraction,
) -> TrainingResult:
    """Train, measure and store a new head; activate it when the evidence says it beats the
    active one (or the raw backbone when none is active) beyond noise
    (``head_evidence.head_decide``). On unchanged data and settings, the head trained on them
    before is returned (``reused``) and nothing is added. Raises NotEnoughLabels for an
    unlabelled catalogue. ``photos``: the photos for photo search's learned space (default:
    ``photo_count`` training photos embedded here, see ``head_photos_embed``).
    ``on_fraction``: the share done (0..1), as it goes; it may raise TrainingCancelled."""
    from visualsearch.ml.embedder import MODEL_VERSION

    started = time.perf_counter()
    data = head_data_load() if data is None else data
    on_progress(f"{len(data)} products loaded")
    twins = head_data_twins(data)
    on_fraction(0.03)
    photo_count = int(vs_settings.HEAD_PHOTO_PAIRS if photo_count is None else photo_count)
    fingerprint = training_fingerprint(data, params, photo_count, photos)
    same = SimilarityHead.objects.defer("weights").filter(fingerprint=fingerprint).order_by("-pk").first()
    if same is not None:
        reason = (
            f"Nothing changed since {same.version} was trained (same products, vectors, labels and settings): "
            f"{same.version} is reused, no copy added. It is {'active' if same.active else 'not active'}: {same.note}"
        )
        on_progress(reason)
        return TrainingResult(same, False, reason, reused=True, twins=twins.summary())
    with_photos = photos is not None or photo_count > 0
    fit_stop = 0.45 if with_photos else 0.8
    model, info = fit_similarity_model(
        data, params=params, on_progress=on_progress, on_fraction=_scaled(on_fraction, 0.03, fit_stop)
    )
    on_fraction(fit_stop)
    photo_started = time.perf_counter()
    if photos is None and photo_count > 0:
        expected = (
            photo_count
            + int(vs_settings.HEAD_PHOTO_SCENES)
            + int(vs_settings.HEAD_PHOTO_VALIDATION)
            + int(vs_settings.HEAD_PHOTO_VALIDATION_SCENES)
            + 2 * int(vs_settings.HEAD_PHOTO_EVALUATION)
        )
        tracker = _PhotoProgress(expected, on_progress, _scaled(on_fraction, fit_stop, 0.8))
        photos = head_photos_embed(data, photo_count, tracker)
    if photos is not None:
        model.photo, photo_info = fit_photo_projection(data, photos, on_progress=on_progress)
        photo_info["photo_seconds"] = round(time.perf_counter() - photo_started, 1)
        info.update(photo_info)
        model.info = info
    on_fraction(0.85)
    seconds = time.perf_counter() - started
    on_progress("measuring on the held-out products")
    active = head_active()
    active_model = head_mod.SimilarityModel.from_bytes(active.weights) if active is not None else None
    queries, pool = evaluation_queries(data), np.arange(len(data))
    new_matrix, raw = similar_matrix(data, model), raw_matrix(data)
    new_q = find_similar_per_query(new_matrix, data.labels, queries, pool)
    raw_q = find_similar_per_query(raw, data.labels, queries, pool)
    baseline_name, baseline_matrix, baseline_q = "the raw backbone", raw, raw_q
    if active_model is not None:
        assert active is not None
        baseline_name = f"the active head {active.version}"
        baseline_matrix = similar_matrix(data, active_model)
        baseline_q = find_similar_per_query(baseline_matrix, data.labels, queries, pool)
    on_fraction(0.9)

    def counted(per_query: dict[str, np.ndarray], what: str) -> dict[str, float]:
        return {**figures_mean(per_query), what: len(next(iter(per_query.values())))} if per_query else {}

    photo_metrics: dict[str, Any] = {}
    new_photo: dict[str, np.ndarray] = {}
    baseline_photo: dict[str, np.ndarray] = {}
    for profile, held_out in (photos.evaluation if photos is not None else {}).items():
        raw_p = photo_per_photo(data, None, held_out, twins)
        new_p = photo_per_photo(data, model, held_out, twins)
        photo_metrics[profile] = {"raw": counted(raw_p, "photos"), "head": counted(new_p, "photos")}
        if profile == "standard":
            new_photo, baseline_photo = new_p, raw_p
            if active_model is not None:
                baseline_photo = photo_per_photo(data, active_model, held_out, twins)
    evidence = paired_bootstrap(baseline_q, new_q, baseline_photo, new_photo)
    decision = head_decide(evidence, baseline_name)
    examples = head_examples(
        data, baseline_matrix, new_matrix, baseline_q.get("p5_type", np.zeros(0)), new_q.get("p5_type", np.zeros(0))
    )
    on_fraction(0.97)
    blob = model.to_bytes()
    row = SimilarityHead.objects.create(
        backbone_version=MODEL_VERSION,
        weights=blob,
        metrics={
            "eval": counted(new_q, "queries"),
            "raw": counted(raw_q, "queries"),
            "baseline": counted(baseline_q, "queries"),
            "baseline_name": baseline_name,
            "baseline_head": active.pk if active is not None else None,
            "baseline_photo": figures_mean(baseline_photo) if baseline_photo else {},
            "photos": photo_metrics,
            "evidence": evidence.as_dict(),
            "examples": examples,
            "twins": twins.summary(),
        },
        params=info,
        training_seconds=round(seconds, 1),
        size_bytes=len(blob),
        trained_on=int(info["train_products"]),
        note=decision.reason,
        fingerprint=fingerprint,
    )
    on_progress(decision.reason)
    activated = False
    if activate and decision.activate:
        row = head_activate(row)
        activated = True
    logger.info("similarity head v%s trained in %.0f s: %s", row.pk, seconds, decision.reason)
    return TrainingResult(row, activated, decision.reason, twins=twins.summary())
