"""Photo search's "exact match": the score at which the best match is called the photographed
product itself (shown first even when sold out), calibrated on products outside the
evaluation split.

Data, none of it from the evaluation split (``visualsearch.ml.head.split_of``): the gallery is
the stored catalogue's products outside it (their stored vectors and colours, as the site
serves them); the photos are the fixed shopper photos (``shopper_photo``, standard and hard
profiles) of products of that gallery, decoded and embedded exactly as photo search does
(``decode_photo`` → ``model_inputs``, the default box and the whole photo).

Each photo is searched twice through photo search's ranking (``rank_photo``) and scored as
"nothing close" is (raw cosine + VISUALSEARCH_PHOTO_COLOUR_WEIGHT × colour,
``raw_photo_score``'s definition, best over the inputs):

* listed: its product in the gallery. The best match is right when it is the product or a
  same-picture twin (identical image checksum).
* unlisted: its own product (and twins) left out, as a photo of something the shop does not
  sell: every best match is wrong.

The threshold is the lowest at which at most ``max_false_listed`` of the listed photos and at
most ``max_false_unlisted`` of the unlisted ones would show a wrong product as "the one in your
photo"; the share of listed photos called exactly right at it (recall) is reported. A twin is
a product with the identical image checksum or a stored vector at cosine ≥ TWIN_COSINE (the
project's same-picture definition). Nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

K = 5


@dataclass
class Gallery:
    ids: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray
    checksums: np.ndarray

    def __post_init__(self) -> None:
        self.row_of = {int(pid): row for row, pid in enumerate(self.ids)}

    def without(self, product_ids: set[int]) -> Gallery:
        keep = np.asarray([int(pid) not in product_ids for pid in self.ids])
        return Gallery(self.ids[keep], self.vectors[keep], self.colours[keep], self.checksums[keep])


@dataclass
class ExactReport:
    photos: int
    gallery: int
    threshold: float
    max_false_listed: float
    max_false_unlisted: float
    # per photo (listed run): the best match's raw score and whether it is right
    listed_scores: np.ndarray
    listed_right: np.ndarray
    unlisted_scores: np.ndarray
    profiles: list[str]
    seconds: float

    def recall(self, t: float) -> float:
        return float(np.mean(self.listed_right & (self.listed_scores >= t)))

    def false_listed(self, t: float) -> float:
        return float(np.mean(~self.listed_right & (self.listed_scores >= t)))

    def false_unlisted(self, t: float) -> float:
        return float(np.mean(self.unlisted_scores >= t))


def choose_exact_threshold(
    listed_scores: np.ndarray,
    listed_right: np.ndarray,
    unlisted_scores: np.ndarray,
    max_false_listed: float,
    max_false_unlisted: float,
) -> float:
    """The lowest threshold (3 decimals) at which neither wrong-exact rate exceeds its limit."""
    wrong = np.concatenate([listed_scores[~listed_right], unlisted_scores])
    for t in np.round(np.arange(0.5, 1.2005, 0.001), 3):
        if (
            np.mean(unlisted_scores >= t) <= max_false_unlisted
            and np.mean(~listed_right & (listed_scores >= t)) <= max_false_listed
        ):
            return float(t)
    return float(round(wrong.max() + 0.001, 3)) if len(wrong) else 1.0


def _raw_best(
    gallery: Gallery, vectors: np.ndarray, colours: np.ndarray, colour_weight: float, candidates: int
) -> tuple[int, float]:
    """Photo search's best match (``rank_photo`` over an index of the gallery) and its raw score."""
    from visualsearch.index.memory import EmbeddingIndex
    from visualsearch.query.ranking import rank_photo

    index = EmbeddingIndex.from_arrays(gallery.ids, gallery.vectors, None, None, colours=gallery.colours)

    def stored(ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for pid in ids:
            row = gallery.row_of[int(pid)]
            colour = gallery.colours[row]
            out[int(pid)] = (gallery.vectors[row], colour if np.isfinite(colour).all() else None)
        return out

    hits = rank_photo(index, vectors, colours, K, {}, stored=stored)
    if not hits:
        return -1, 0.0
    best = hits[0].product_id
    row = gallery.row_of[best]
    scores = vectors @ gallery.vectors[row]
    if np.isfinite(gallery.colours[row]).all():
        scores = scores + colour_weight * (colours @ gallery.colours[row])
    return best, float(scores.max())


def measure(
    gallery: Gallery,
    read_image: Callable[[int], bytes],
    count: int,
    *,
    max_false_listed: float = 0.01,
    max_false_unlisted: float = 0.05,
    progress: Callable[[str], None] = lambda _m: None,
) -> ExactReport:
    from lab.photo_quality import embed
    from visualsearch.conf import vs_settings
    from visualsearch.ml.shopper_photos import PROFILES, photo_order, shopper_photo
    from visualsearch.query.photo import decode_photo
    from visualsearch.services.head_figures import TWIN_COSINE

    started = time.perf_counter()
    weight = float(vs_settings.PHOTO_COLOUR_WEIGHT)
    chosen = photo_order(gallery.ids, salt="exact-match")[:count]
    profiles = ["standard" if i % 2 == 0 else "hard" for i in range(len(chosen))]
    inputs = []
    for pid, profile in zip(chosen, profiles, strict=True):
        photo = shopper_photo(pid, read_image(pid), profile=PROFILES[profile])
        inputs.append(decode_photo(photo.data).model_inputs())
    progress(f"embedding {len(inputs)} shopper photos")
    embedded = embed(inputs)
    listed_scores, listed_right, unlisted_scores = [], [], []
    for i, (pid, vectors, colours) in enumerate(zip(chosen, embedded.vectors, embedded.colours, strict=True)):
        checksum = gallery.checksums[gallery.row_of[pid]]
        twins = {int(p) for p, c in zip(gallery.ids, gallery.checksums, strict=True) if checksum and c == checksum}
        twins |= {int(p) for p in gallery.ids[gallery.vectors @ gallery.vectors[gallery.row_of[pid]] >= TWIN_COSINE]}
        twins.add(int(pid))
        best, score = _raw_best(gallery, vectors, colours, weight, K)
        listed_scores.append(score)
        listed_right.append(best in twins)
        _best, other = _raw_best(gallery.without(twins), vectors, colours, weight, K)
        unlisted_scores.append(other)
        if (i + 1) % 50 == 0:
            progress(f"searched {i + 1}/{len(chosen)}")
    ls, lr, us = np.asarray(listed_scores), np.asarray(listed_right, bool), np.asarray(unlisted_scores)
    return ExactReport(
        len(chosen),
        len(gallery.ids),
        choose_exact_threshold(ls, lr, us, max_false_listed, max_false_unlisted),
        max_false_listed,
        max_false_unlisted,
        ls,
        lr,
        us,
        profiles,
        time.perf_counter() - started,
    )


def report_lines(report: ExactReport, current: float) -> list[str]:
    r = report
    lines = [
        f"# exact match: {r.photos} shopper photos (half standard, half hard) of products outside the evaluation"
        f" split, searched among {r.gallery} such products ({r.seconds:.0f} s)",
        f"best match right (the product or a same-picture twin): {np.mean(r.listed_right):.1%}",
    ]
    for name, scores in (
        ("right best match", r.listed_scores[r.listed_right]),
        ("wrong best match", r.listed_scores[~r.listed_right]),
        ("product not sold", r.unlisted_scores),
    ):
        if len(scores):
            q = np.percentile(scores, [1, 5, 50, 95, 99])
            lines.append(
                f"{name:<18} raw score p1 {q[0]:.3f} p5 {q[1]:.3f} median {q[2]:.3f} p95 {q[3]:.3f} p99 {q[4]:.3f}"
                f" max {scores.max():.3f} ({len(scores)})"
            )
    lines.append(f"{'threshold':<12}{'exact & right':>15}{'wrong, sold':>13}{'wrong, not sold':>17}")
    for t in sorted({r.threshold, current, 0.80, 0.85, 0.90, 0.92, 0.94, 0.96, 0.98, 1.0}):
        mark = "  ← chosen" if t == r.threshold else ("  ← VISUALSEARCH_PHOTO_EXACT_THRESHOLD" if t == current else "")
        lines.append(f"{t:<12.3f}{r.recall(t):>15.1%}{r.false_listed(t):>13.1%}{r.false_unlisted(t):>17.1%}{mark}")
    lines.append(
        f"threshold {r.threshold:.3f} (the lowest with at most {r.max_false_listed:.1%} of photos of products sold"
        f" and {r.max_false_unlisted:.1%} of photos of products not sold called a wrong exact match)"
    )
    return lines
