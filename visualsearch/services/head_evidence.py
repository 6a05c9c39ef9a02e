"""Whether a new head's figures are better beyond noise: the evidence activation needs.

Both heads (or a head and the raw backbone) answer the same held-out queries, so the test is
paired: a bootstrap that resamples the queries (and, separately, the held-out photos) and
recomputes the difference of the means each time. A difference whose interval
(VISUALSEARCH_HEAD_CONFIDENCE, two-sided) lies above 0 is real; one whose interval straddles 0
is noise. Activation (``head_decide``) needs:

- at least VISUALSEARCH_HEAD_MIN_EVAL_QUERIES held-out queries (below that, no difference of
  the size heads differ by can be told from noise): else the head is stored, not activated;
- no headline figure dropping beyond its noise (its interval entirely below 0);
- the score heads compete on (``head_figures.score``) rising beyond its noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from visualsearch.conf import vs_settings

# The figures no head may lower beyond their noise: (key, what staff read, per-photo or not).
HEADLINE = (
    ("p5_type", "find similar's same kind of product (P@5 type)", False),
    ("p1_type", "find similar's first lookalike of the same kind (P@1 type)", False),
    ("p5_type_colour", "find similar's same kind in the same colour (P@5 type∧colour)", False),
    ("self_at_1", "photo search finding the product first (photo self@1)", True),
    ("self_at_5", "photo search finding the product in its 5 (photo self@5)", True),
)
# The score heads compete on: find similar's two targets and photo search's two.
SCORED = ("p5_type", "p5_type_colour", "self_at_1", "self_at_5")


@dataclass
class FigureChange:
    key: str
    label: str
    before: float
    after: float
    low: float  # the interval of after − before
    high: float

    @property
    def dropped(self) -> bool:
        """Lower beyond its noise: the whole interval below 0."""
        return self.high < 0


@dataclass
class Evidence:
    queries: int
    photos: int
    confidence: float
    score_before: float
    score_after: float
    score_low: float
    score_high: float
    changes: list[FigureChange] = field(default_factory=list)

    @property
    def gain(self) -> float:
        return self.score_after - self.score_before

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    before_photos: dict[str, np.ndarray] | None = None,
    after_photos: dict[str, np.ndarray] | None = None,
    *,
    samples: int | None = None,
    confidence: float | None = None,
    seed: int = 0,
) -> Evidence:
    """The paired bootstrap of each headline figure and of the score: per-query values of the
    same queries (``before``/``after``, find similar) and of the same photos (``*_photos``);
    queries and photos are resampled independently, the same resample for every figure."""
    samples = int(vs_settings.HEAD_BOOTSTRAP_SAMPLES if samples is None else samples)
    confidence = float(vs_settings.HEAD_CONFIDENCE if confidence is None else confidence)
    before_photos, after_photos = before_photos or {}, after_photos or {}
    queries = len(next(iter(before.values()))) if before else 0
    photos = len(next(iter(before_photos.values()))) if before_photos else 0
    tail = (1.0 - confidence) / 2 * 100
    query_rng, photo_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    # One set of resampled rows for every figure (the same rows: a paired test of each).
    query_picks = query_rng.integers(0, max(queries, 1), size=(samples, max(queries, 1)), dtype=np.int32)
    photo_picks = photo_rng.integers(0, max(photos, 1), size=(samples, max(photos, 1)), dtype=np.int32)
    changes, score_samples = [], np.zeros(samples)
    score_before = score_after = 0.0
    for key, label, per_photo in HEADLINE:
        old, new = (before_photos, after_photos) if per_photo else (before, after)
        if key not in old or key not in new or len(old[key]) == 0:
            continue
        diff = np.asarray(new[key], np.float64) - np.asarray(old[key], np.float64)
        picks = photo_picks if per_photo else query_picks
        means = diff[picks].mean(axis=1)
        low, high = np.percentile(means, [tail, 100 - tail])
        change = FigureChange(key, label, float(np.mean(old[key])), float(np.mean(new[key])), float(low), float(high))
        changes.append(change)
        if key in SCORED:
            score_samples += means
            score_before += change.before
            score_after += change.after
    low, high = np.percentile(score_samples, [tail, 100 - tail]) if changes else (0.0, 0.0)
    return Evidence(queries, photos, confidence, score_before, score_after, float(low), float(high), changes)


@dataclass
class Decision:
    activate: bool
    reason: str  # in plain words, for the heads page


def head_decide(evidence: Evidence, baseline_name: str) -> Decision:
    """Activate or not, and why (see the module docstring)."""
    minimum = int(vs_settings.HEAD_MIN_EVAL_QUERIES)
    share = f"{evidence.confidence:.0%}"
    if evidence.queries < minimum:
        return Decision(
            False,
            f"Stored, not activated: only {evidence.queries} held-out products to measure it on, and at least "
            f"{minimum} are needed to tell a real difference from noise (VISUALSEARCH_HEAD_MIN_EVAL_QUERIES).",
        )
    dropped = [change for change in evidence.changes if change.dropped]
    if dropped:
        worst = min(dropped, key=lambda change: change.high)
        return Decision(
            False,
            f"Not activated: {worst.label} fell from {worst.before:.3f} to {worst.after:.3f} against "
            f"{baseline_name}, more than its noise ({share} interval of the change: "
            f"{worst.low:+.3f} to {worst.high:+.3f}).",
        )
    interval = f"{share} interval {evidence.score_low:+.3f} to {evidence.score_high:+.3f}"
    if evidence.score_low <= 0:
        verb = "does not beat" if evidence.gain <= 0 else "beats only within noise"
        return Decision(
            False,
            f"Not activated: score {evidence.score_after:.3f} {verb} {baseline_name}'s {evidence.score_before:.3f} "
            f"({interval} of the change, on {evidence.queries} held-out products"
            + (f" and {evidence.photos} photos" if evidence.photos else "")
            + ").",
        )
    return Decision(
        True,
        f"Activated: score {evidence.score_after:.3f} beats {baseline_name}'s {evidence.score_before:.3f} beyond "
        f"noise ({interval} of the change, on {evidence.queries} held-out products"
        + (f" and {evidence.photos} photos" if evidence.photos else "")
        + "), and no headline figure fell beyond its noise.",
    )
