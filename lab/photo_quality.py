"""Photo search's "crop to search" and "no close match", measured on real catalogue vectors.

* Crop: catalogue products photographed on a larger background (``placed_photo`` of
  ``visualsearch.ml.shopper_photos``: the product, cut out of its catalogue backdrop, placed
  at a random spot of a canvas 1.6–3× its size: a plain, graded or noisy colour, or a
  texture from scikit-image's bundled photos: brick, grass, gravel, …). Each photo is
  searched three ways: the whole photo, the default box (uniform borders trimmed,
  ``visualsearch.query.photo.default_box``) and the shopper's box (the product's own box, drawn
  a little loosely). Self@1 / self@5: the photographed product first / in the 5 results.
* No close match: the best score photo search gives catalogue shopper photos (the
  evaluation's perturbed ``shopper_photos`` and the placed photos with the shopper's box)
  against the one it gives non-fashion images (scikit-image's bundled photos, their crops,
  and generated gradients, plain colours, noise and stripes). The threshold is the one
  with the fewest errors, a real product's photo wrongly told "nothing close" counting
  twice; both error rates are reported.

Everything runs through ``visualsearch.query`` (photo.decode_photo, ranking.rank_photo), the code the
site runs, over an in-memory index of the cached vectors (``var/cache``); the model embeds
the photos. Nothing is written anywhere.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from visualsearch.ml.shopper_photos import (
    PLACED_SEED,
    jpeg_bytes,
    photo_order,
    placed_photo,
    shopper_photo,
    skimage_photo,
)

K = 5
NON_FASHION = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "page",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "brick",
    "grass",
    "gravel",
    "text",
    "retina",
    "logo",
    "clock",
    "colorwheel",
    "cell",
    "checkerboard",
    "microaneurysms",
    "shepp_logan_phantom",
    "binary_blobs",
)


def loose(box: Sequence[float], rng: np.random.Generator, slack: float = 0.06) -> tuple[float, float, float, float]:
    """A box as a shopper's finger draws it: each side off by up to ``slack`` of the box's size."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    jitter = rng.uniform(-slack, slack * 1.5, 4)
    return (
        float(max(0.0, x0 - jitter[0] * w)),
        float(max(0.0, y0 - jitter[1] * h)),
        float(min(1.0, x1 + jitter[2] * w)),
        float(min(1.0, y1 + jitter[3] * h)),
    )


def non_fashion_photos(seed: int = 0) -> list[tuple[str, bytes]]:
    """Images no fashion shop sells: scikit-image's bundled photos (whole, and two random
    crops of each) and generated gradients, plain colours, noise and stripes."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, bytes]] = []
    for name in NON_FASHION:
        photo = skimage_photo(name)
        out.append((name, jpeg_bytes(photo)))
        for i in range(2):
            w, h = photo.size
            cw, ch = int(w * rng.uniform(0.4, 0.8)), int(h * rng.uniform(0.4, 0.8))
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            out.append((f"{name} crop {i + 1}", jpeg_bytes(photo.crop((x0, y0, x0 + cw, y0 + ch)))))
    size = (480, 640)
    for i in range(20):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, size[1] if i % 2 else size[0], dtype=np.float32)
        line = a * (1 - t[:, None]) + b * t[:, None]
        array = (
            np.broadcast_to(line[:, None, :], (size[1], size[0], 3))
            if i % 2
            else np.broadcast_to(line[None, :, :], (size[1], size[0], 3))
        )
        out.append((f"gradient {i + 1}", jpeg_bytes(Image.fromarray(array.astype(np.uint8), "RGB"))))
    for i in range(10):
        yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
        r = np.hypot(xx - size[0] / 2, yy - size[1] / 2) / np.hypot(*size) * 2
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        array = a * (1 - r[..., None]) + b * r[..., None]
        out.append((f"radial gradient {i + 1}", jpeg_bytes(Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)))))
    for i in range(10):
        colour = rng.integers(0, 256, 3).astype(np.uint8)
        out.append((f"plain colour {i + 1}", jpeg_bytes(Image.new("RGB", size, tuple(int(c) for c in colour)))))
    for i in range(10):
        noise = rng.normal(128, float(rng.uniform(20, 80)), (size[1], size[0], 3))
        out.append((f"noise {i + 1}", jpeg_bytes(Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)))))
    for i in range(10):
        period = int(rng.integers(8, 60))
        stripes = ((np.arange(size[0]) // period) % 2).astype(np.float32)
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        array = np.broadcast_to(a * (1 - stripes[:, None]) + b * stripes[:, None], (size[1], size[0], 3))
        out.append((f"stripes {i + 1}", jpeg_bytes(Image.fromarray(array.astype(np.uint8)))))
    return out


# --- searching ------------------------------------------------------------------------------


@dataclass
class Slice:
    """Catalogue vectors in memory (catalogue ids), with colour descriptors."""

    ids: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray

    @classmethod
    def load(cls, folder: Path, size: int = 20000) -> Slice:
        vectors = np.load(folder / f"resnet50_slice_{size}.npz")
        colours = np.load(folder / f"colour_slice_{size}.npz")
        assert np.array_equal(vectors["ids"], colours["ids"]), "the cached vectors and colours differ"
        return cls(vectors["ids"].astype(np.int64), vectors["vectors"].astype(np.float32), colours["colours"])


class SliceSearch:
    """Photo search's ranking (``rank_photo``) over a static index of the slice."""

    def __init__(self, data: Slice) -> None:
        from visualsearch.index.memory import EmbeddingIndex

        self.data = data
        self.row_of = {int(pid): row for row, pid in enumerate(data.ids)}
        self.index = EmbeddingIndex.from_arrays(data.ids, data.vectors, None, None, colours=data.colours)

    def stored(self, product_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for pid in product_ids:
            row = self.row_of[int(pid)]
            colour = self.data.colours[row]
            out[int(pid)] = (self.data.vectors[row], colour if np.isfinite(colour).all() else None)
        return out

    def search(self, vector: np.ndarray, colour: np.ndarray, k: int = K) -> list[tuple[int, float]]:
        from visualsearch.query.ranking import rank_photo

        hits = rank_photo(self.index, vector, colour, k, {}, stored=self.stored)
        return [(h.product_id, h.score) for h in hits]


@dataclass
class Embedded:
    """Photos embedded as photo search embeds them: per photo, its model inputs' vectors
    and colour descriptors, one row per input (``DecodedPhoto.model_inputs``)."""

    vectors: list[np.ndarray] = field(default_factory=list)
    colours: list[np.ndarray] = field(default_factory=list)


def embed(inputs: list[np.ndarray]) -> Embedded:
    """``inputs``: per photo, (V, 224, 224, 3) model inputs; one model batch for all."""
    from visualsearch.ml import embedder
    from visualsearch.query.photo import query_colour

    if not inputs:
        return Embedded()
    vectors = embedder.embed_batch(np.concatenate(inputs))
    colours = query_colour(np.concatenate(inputs))
    bounds = np.cumsum([0, *(len(i) for i in inputs)])
    return Embedded(
        [vectors[a:b] for a, b in itertools.pairwise(bounds)],
        [colours[a:b] for a, b in itertools.pairwise(bounds)],
    )


@dataclass
class CropReport:
    photos: int
    # way → (self@1, self@5), overall and per background kind
    overall: dict[str, tuple[float, float]]
    by_background: dict[str, dict[str, tuple[float, float]]]
    best_scores: np.ndarray  # best score per photo with the shopper's box (genuine)
    seconds: float


CROP_WAYS = ("whole photo", "default box (borders trimmed; best of it and the whole photo)", "shopper's box")


def measure_crop(search: SliceSearch, read_image: Callable[[int], bytes], count: int) -> CropReport:
    """Self@1/self@5 of ``count`` placed photos, searched three ways (CROP_WAYS)."""
    from visualsearch.query.photo import FULL_BOX, decode_photo

    started = time.perf_counter()
    chosen = photo_order(search.data.ids)[:count]
    rng = np.random.default_rng(PLACED_SEED)
    pixels: dict[str, list[np.ndarray]] = {way: [] for way in CROP_WAYS}
    kinds: list[str] = []
    for pid in chosen:
        photo = placed_photo(pid, read_image(pid))
        kinds.append(photo.background)
        pixels[CROP_WAYS[0]].append(decode_photo(photo.data, FULL_BOX).model_inputs())
        pixels[CROP_WAYS[1]].append(decode_photo(photo.data, None).model_inputs())
        pixels[CROP_WAYS[2]].append(decode_photo(photo.data, loose(photo.box, rng)).model_inputs())
    overall: dict[str, tuple[float, float]] = {}
    by_background: dict[str, dict[str, tuple[float, float]]] = {}
    best = np.zeros(0)
    for way in CROP_WAYS:
        embedded = embed(pixels[way])
        at1, at5, scores = [], [], []
        for pid, vector, colour in zip(chosen, embedded.vectors, embedded.colours, strict=True):
            hits = search.search(vector, colour)
            ids = [h[0] for h in hits]
            at1.append(float(ids[:1] == [pid]))
            at5.append(float(pid in ids))
            scores.append(hits[0][1] if hits else 0.0)
        overall[way] = (float(np.mean(at1)), float(np.mean(at5)))
        for kind in sorted(set(kinds)):
            rows = [i for i, k in enumerate(kinds) if k == kind]
            by_background.setdefault(kind, {})[way] = (
                float(np.mean([at1[i] for i in rows])),
                float(np.mean([at5[i] for i in rows])),
            )
        if way == CROP_WAYS[2]:
            best = np.asarray(scores)
    return CropReport(len(chosen), overall, by_background, best, time.perf_counter() - started)


@dataclass
class ThresholdReport:
    threshold: float
    genuine: np.ndarray  # best scores of catalogue shopper photos
    other: np.ndarray  # best scores of non-fashion images
    other_names: list[str]
    # real product photos told "nothing close" / non-fashion images shown as matches
    false_no_match: float
    false_match: float
    unlisted: np.ndarray  # best scores of shopper photos whose product is not in the index


def best_scores(search: SliceSearch, datas: Sequence[bytes], *, exclude: Sequence[int] | None = None) -> np.ndarray:
    """The best score photo search gives each photo (default box); with ``exclude``, each
    photo's own product left out (a fashion item the shop does not sell)."""
    from visualsearch.query.photo import decode_photo

    embedded = embed([decode_photo(d).model_inputs() for d in datas])
    out = []
    for i, (vector, colour) in enumerate(zip(embedded.vectors, embedded.colours, strict=True)):
        hits = search.search(vector, colour, K + 1)
        if exclude is not None:
            hits = [h for h in hits if h[0] != exclude[i]]
        out.append(hits[0][1] if hits else 0.0)
    return np.asarray(out)


def choose_threshold(genuine: np.ndarray, other: np.ndarray, miss_cost: float = 2.0) -> float:
    """The threshold with the fewest weighted errors (a real product's photo told "nothing
    close" counts ``miss_cost``), half-way between neighbouring scores."""
    values = np.sort(np.concatenate([genuine, other]))
    candidates = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values
    costs = [miss_cost * np.mean(genuine < t) + np.mean(other >= t) for t in candidates]
    return round(float(candidates[int(np.argmin(costs))]), 3)


def measure_threshold(
    search: SliceSearch, read_image: Callable[[int], bytes], count: int, crop_scores: np.ndarray | None = None
) -> ThresholdReport:
    chosen = photo_order(search.data.ids)[-count:]  # other products than the crop's
    photos = [shopper_photo(pid, read_image(pid)).data for pid in chosen]
    genuine = best_scores(search, photos)
    if crop_scores is not None:
        genuine = np.concatenate([genuine, crop_scores])
    unlisted = best_scores(search, photos, exclude=chosen)
    others = non_fashion_photos()
    other = best_scores(search, [d for _n, d in others])
    threshold = choose_threshold(genuine, other)
    return ThresholdReport(
        threshold,
        genuine,
        other,
        [n for n, _d in others],
        float(np.mean(genuine < threshold)),
        float(np.mean(other >= threshold)),
        unlisted,
    )


def report_lines(crop: CropReport | None, threshold: ThresholdReport | None) -> list[str]:
    lines: list[str] = []
    if crop is not None:
        lines.append(f"# crop to search: {crop.photos} catalogue products placed on a larger background")
        lines.append(f"{'searched region':<34}{'self@1':>8}{'self@5':>8}")
        for way, (at1, at5) in crop.overall.items():
            lines.append(f"{way:<34}{at1:>8.3f}{at5:>8.3f}")
        for kind, ways in crop.by_background.items():
            lines.append(f"# {kind} backgrounds")
            for way, (at1, at5) in ways.items():
                lines.append(f"  {way:<32}{at1:>8.3f}{at5:>8.3f}")
    if threshold is not None:
        t = threshold
        lines.append(
            f"# no close match: {len(t.genuine)} catalogue shopper photos vs {len(t.other)} non-fashion images"
        )
        for name, scores in (
            ("catalogue photos", t.genuine),
            ("non-fashion", t.other),
            ("product not sold", t.unlisted),
        ):
            q = np.percentile(scores, [1, 5, 50, 95, 99])
            lines.append(
                f"{name:<18} best score p1 {q[0]:.3f} p5 {q[1]:.3f} median {q[2]:.3f} p95 {q[3]:.3f} p99 {q[4]:.3f}"
            )
        lines.append(f"threshold {t.threshold:.3f}")
        lines.append(f"real product photos told 'nothing close': {t.false_no_match:.1%} of {len(t.genuine)}")
        lines.append(f"non-fashion images shown as a match:      {t.false_match:.1%} of {len(t.other)}")
        lines.append(
            f"photos of a product the shop does not sell told 'nothing close': {np.mean(t.unlisted < t.threshold):.1%}"
        )
        passing = [n for n, s in zip(t.other_names, t.other, strict=True) if s >= t.threshold]
        if passing:
            lines.append("non-fashion shown as a match: " + ", ".join(passing[:12]))
    return lines
