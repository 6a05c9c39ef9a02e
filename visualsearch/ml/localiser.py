"""The item localiser, as served: where the fashion items are in a photo.

ResNet50 stays frozen; the localiser is a small head on its stage-4 feature map (14×14 cells
of 1,024 features for the 224×224 whole photo, from photo search's own forward pass:
``embedder.embed_with_features``). Each cell's features (power-normalised, beside the mean of
its 3×3 neighbourhood for context) go through a logistic regression: the chance that the cell
lies on an item. The map is smoothed up to 56×56; its regions above ``threshold`` are the
items, a region holding two cores is split between them (two items side by side: the cores
are the region's parts above the lowest level at which it falls apart into two or more parts of
at least ``split_core`` × ``min_area``; a localiser stored before that rule, ``split_core`` 0,
takes the parts above ``split_threshold``), and each region's extent is a box, scored by its
mean objectness. Boxes are
fractions (0–1) of the photo's width and height, most confident first.

Trained by ``visualsearch.ml.localiser_training`` on generated scenes (``scenes``); stored
as bytes (``to_bytes`` / ``from_bytes``) in a versioned ``ItemLocaliser`` row. numpy and
scipy only; no Django.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

Box = tuple[float, float, float, float]

FEATURE_DIM = 1024
GRID = 14
FINE = 56  # the objectness map is smoothed up to FINE × FINE before regions are cut
FORMAT = "item-localiser-v1"


def cell_features(feature_map: np.ndarray) -> np.ndarray:
    """Per-cell inputs of the head: (..., 14, 14, 1024) → (..., 14, 14, 2048): each cell's
    square-rooted features, then the mean of its 3×3 neighbourhood's."""
    root = np.sqrt(np.maximum(np.asarray(feature_map, np.float32), 0.0))
    context = ndimage.uniform_filter(root, size=(*([1] * (root.ndim - 3)), 3, 3, 1), mode="nearest")
    return np.concatenate([root, context], axis=-1)


@dataclass(frozen=True)
class Detection:
    """An item found in a photo: its box (fractions) and how sure the localiser is (0–1)."""

    box: Box
    score: float


@dataclass(frozen=True)
class Localiser:
    """The head: weights over ``cell_features`` (standardisation folded in) and how regions
    become boxes."""

    weights: np.ndarray  # (2048,)
    bias: float
    threshold: float = 0.5  # a cell above this lies on an item
    split_threshold: float = 0.8  # two cores above this in one region: two items (split_core 0 only)
    split_core: float = 0.0  # > 0: a region splits where it falls apart into cores this × min_area
    min_area: float = 0.015  # a region smaller than this share of the photo is no item
    margin: float = 0.04  # each box grows by this share of its size on every side
    max_items: int = 4
    metrics: dict[str, float] = field(default_factory=dict)

    def objectness(self, feature_map: np.ndarray) -> np.ndarray:
        """The chance that each cell lies on an item: (14, 14, 1024) → (14, 14)."""
        logits = cell_features(feature_map) @ self.weights + self.bias
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)

    def detect(self, feature_map: np.ndarray) -> list[Detection]:
        """The items in one photo's feature map, most confident first (at most ``max_items``)."""
        return self.boxes(self.objectness(feature_map))

    def boxes(self, objectness: np.ndarray) -> list[Detection]:
        """The items of an objectness map (``objectness``), by this localiser's box rule: what
        ``detect`` does once the head has run, so that several rules can share one map."""
        return boxes_from_objectness(
            objectness,
            threshold=self.threshold,
            split_threshold=self.split_threshold,
            split_core=self.split_core,
            min_area=self.min_area,
            margin=self.margin,
            max_items=self.max_items,
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        params = {
            "format": FORMAT,
            "threshold": self.threshold,
            "split_threshold": self.split_threshold,
            "split_core": self.split_core,
            "min_area": self.min_area,
            "margin": self.margin,
            "max_items": self.max_items,
            "metrics": self.metrics,
        }
        np.savez(
            buffer,
            weights=self.weights.astype(np.float32),
            bias=np.float32(self.bias),
            params=np.frombuffer(json.dumps(params).encode(), np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Localiser:
        with np.load(io.BytesIO(bytes(data))) as arrays:
            params = json.loads(bytes(arrays["params"]).decode())
            if params.get("format") != FORMAT:
                raise ValueError(f"not an item localiser of format {FORMAT}")
            return cls(
                weights=np.asarray(arrays["weights"], np.float32),
                bias=float(arrays["bias"]),
                threshold=float(params["threshold"]),
                split_threshold=float(params["split_threshold"]),
                split_core=float(params.get("split_core", 0.0)),  # stored before the rule: 0
                min_area=float(params["min_area"]),
                margin=float(params["margin"]),
                max_items=int(params["max_items"]),
                metrics={k: float(v) for k, v in params.get("metrics", {}).items()},
            )


def _smooth(objectness: np.ndarray) -> np.ndarray:
    """The 14×14 map bilinearly up to FINE × FINE (cell centres kept in place)."""
    zoom = FINE / objectness.shape[0]
    return np.clip(ndimage.zoom(objectness, zoom, order=1, mode="nearest", grid_mode=True), 0.0, 1.0)


def _box_of(region: np.ndarray, margin: float) -> Box:
    ys, xs = np.nonzero(region)
    height, width = region.shape
    x0, x1 = xs.min() / width, (xs.max() + 1) / width
    y0, y1 = ys.min() / height, (ys.max() + 1) / height
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (
        round(max(0.0, x0 - mx), 4),
        round(max(0.0, y0 - my), 4),
        round(min(1.0, x1 + mx), 4),
        round(min(1.0, y1 + my), 4),
    )


SPLIT_STEP = 0.02  # the levels at which a region is tried for falling apart


def _cores_fixed(fine: np.ndarray, region: np.ndarray, split_threshold: float, min_pixels: int) -> np.ndarray | None:
    """The region's parts above ``split_threshold`` of at least half ``min_pixels`` (labelled),
    when there are two or more; else None."""
    cores, core_count = ndimage.label(region & (fine >= split_threshold))
    sizes = ndimage.sum_labels(np.ones_like(fine), cores, index=np.arange(1, core_count + 1))
    big = [i + 1 for i, size in enumerate(np.atleast_1d(sizes)) if size >= min_pixels / 2]
    return np.where(np.isin(cores, big), cores, 0) if len(big) >= 2 else None


def _cores_adaptive(fine: np.ndarray, region: np.ndarray, threshold: float, core_pixels: float) -> np.ndarray | None:
    """The region's parts above the lowest level (in SPLIT_STEP steps from ``threshold``) at
    which it falls apart into two or more parts of at least ``core_pixels`` each (labelled);
    None when it never does. Two items whose regions touch through a lower valley split there,
    however bright each is; one item's lobes split only when both are as large as an item."""
    peak = float(fine[region].max())
    for level in np.arange(threshold + SPLIT_STEP, peak, SPLIT_STEP):
        cores, count = ndimage.label(region & (fine >= level))
        if count < 2:
            continue
        sizes = ndimage.sum_labels(np.ones_like(fine), cores, index=np.arange(1, count + 1))
        big = [i + 1 for i, size in enumerate(np.atleast_1d(sizes)) if size >= core_pixels]
        if len(big) >= 2:
            return np.where(np.isin(cores, big), cores, 0)
    return None


def boxes_from_objectness(
    objectness: np.ndarray,
    *,
    threshold: float = 0.5,
    split_threshold: float = 0.8,
    split_core: float = 0.0,
    min_area: float = 0.015,
    margin: float = 0.04,
    max_items: int = 4,
) -> list[Detection]:
    """Regions of the objectness map above ``threshold`` → boxes, most confident first. A region
    with two or more cores is shared between them, every pixel going to its nearest core: two
    items lying close together. The cores: with ``split_core`` > 0, the parts above the lowest
    level at which the region falls apart into parts of at least ``split_core`` × ``min_area``;
    with 0 (localisers stored before that rule), the parts above ``split_threshold`` (each at
    least half ``min_area``)."""
    fine = _smooth(objectness)
    min_pixels = max(1, int(min_area * fine.size))
    regions, count = ndimage.label(fine >= threshold)
    detections: list[Detection] = []
    for number in range(1, count + 1):
        region = regions == number
        if region.sum() < min_pixels:
            continue
        if split_core > 0:
            seeds = _cores_adaptive(fine, region, threshold, split_core * min_pixels)
        else:
            seeds = _cores_fixed(fine, region, split_threshold, min_pixels)
        if seeds is not None:
            _distance, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
            nearest = seeds[iy, ix]
            parts = [region & (nearest == core) for core in np.unique(seeds[seeds > 0])]
        else:
            parts = [region]
        for part in parts:
            if part.sum() < min_pixels:
                continue
            detections.append(Detection(_box_of(part, margin), float(fine[part].mean())))
    detections.sort(key=lambda d: -d.score)
    return detections[:max_items]
