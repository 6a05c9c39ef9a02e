"""Photo search's learned space: a linear map of the raw ResNet50 vectors in which a
shopper's photo of a product lies closer to that product's catalogue image.

The raw ImageNet vector moves a lot when a product is cropped, turned, put on another
background, relit or mirrored; the catalogue's look-alikes (the same shirt in other
colours, the same watch on another strap) move little. ``fit_learned_whitening`` learns,
from pairs (a photo-like copy of a training product, that product's catalogue vector), the
directions in which photos and their products differ and scales them down (the inverse
square root of the pairs' difference covariance, shrunk towards the identity), then keeps
the ``dims`` directions in which the catalogue varies most: "learned whitening"
(Radenović, Tolias and Chum, 2016). Closed form, two eigendecompositions, a few seconds.

No Django, no TensorFlow: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class PhotoProjection:
    """x → unit((x − mean) · matrix): raw (N, 2048) → (N, dims)."""

    mean: np.ndarray  # (2048,)
    matrix: np.ndarray  # (2048, dims)
    colour_weight: float  # photo search's colour weight in this space (chosen on validation photos)
    shrinkage: float

    @property
    def dims(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.mean.nbytes + self.matrix.nbytes)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.asarray(vectors, np.float32)
        if not np.isfinite(vectors).all():  # a corrupt stored vector must not rank first
            vectors = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
        return _unit_rows((vectors - self.mean) @ self.matrix)


class LearnedWhitening:
    """The parts of a fit that do not depend on the shrinkage or the dimensions (the pairs'
    difference covariance, decomposed once, and the catalogue's covariance), so that trying
    several of them costs one small decomposition each."""

    def __init__(self, photos: np.ndarray, originals: np.ndarray, catalogue: np.ndarray) -> None:
        photos = np.asarray(photos, np.float64)
        originals = np.asarray(originals, np.float64)
        if photos.shape != originals.shape or photos.ndim != 2 or len(photos) == 0:
            raise ValueError(f"photos {photos.shape} and originals {originals.shape} must be matching rows")
        catalogue = np.asarray(catalogue, np.float64)
        self.dim = photos.shape[1]
        self.mean = catalogue.mean(axis=0)
        difference = photos - originals
        within = difference.T @ difference / len(difference)
        self.scale = max(float(np.trace(within)) / self.dim, 1e-12)
        self.values, self.vectors = np.linalg.eigh(within)
        spread = np.zeros((self.dim, self.dim))
        for start in range(0, len(catalogue), 8192):
            block = catalogue[start : start + 8192] - self.mean
            spread += block.T @ block
        self.spread = spread / max(len(catalogue), 1)

    def projection(self, *, shrinkage: float, dims: int, colour_weight: float = 0.0) -> PhotoProjection:
        """``shrinkage``: how much of the identity (in units of the mean eigenvalue) is added
        to the pairs' covariance, so that few pairs cannot blow up rare directions."""
        dims = max(1, min(int(dims), self.dim))
        scaled = self.vectors * (np.maximum(self.values + float(shrinkage) * self.scale, 1e-12) ** -0.5)
        whitening = scaled @ self.vectors.T
        # The catalogue's spread in the whitened space: keep its top ``dims`` directions.
        values, vectors = np.linalg.eigh(whitening @ self.spread @ whitening)
        matrix = whitening @ vectors[:, np.argsort(-values)[:dims]]
        return PhotoProjection(
            self.mean.astype(np.float32),
            np.ascontiguousarray(matrix, np.float32),
            float(colour_weight),
            float(shrinkage),
        )


def fit_learned_whitening(
    photos: np.ndarray,
    originals: np.ndarray,
    catalogue: np.ndarray,
    *,
    shrinkage: float,
    dims: int,
    colour_weight: float = 0.0,
) -> PhotoProjection:
    """The projection from matching pairs (``photos[i]`` is a photo of the product whose
    catalogue vector is ``originals[i]``) and the catalogue's vectors (its mean and its
    spread)."""
    fit = LearnedWhitening(photos, originals, catalogue)
    return fit.projection(shrinkage=shrinkage, dims=dims, colour_weight=colour_weight)


def self_ranks(
    query_space: np.ndarray,
    catalogue_space: np.ndarray,
    true_rows: np.ndarray,
    *,
    query_colours: np.ndarray | None = None,
    catalogue_colours: np.ndarray | None = None,
    colour_weight: float = 0.0,
    variants: Sequence[tuple[np.ndarray, np.ndarray | None]] = (),
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """For each query row, how many catalogue rows score above its own product's row
    (0: found first) by dot product (+ colour_weight × colour dot product). ``variants``:
    more (query_space, query_colours) of the same photos, row for row (the whole photo
    beside the trimmed one); each product then scores by its best variant, as photo search
    scores it. ``groups`` (one number per catalogue row): rows of the same number are one
    item (the same picture listed twice); a query's item then ranks by its best row, and
    its other rows never count against it."""
    ranks = np.empty(len(query_space), np.int64)
    use_colour = colour_weight > 0 and query_colours is not None and catalogue_colours is not None
    catalogue = np.nan_to_num(np.asarray(catalogue_colours, np.float32)) if use_colour else None
    every = [(query_space, query_colours), *variants]
    for start in range(0, len(query_space), 256):
        stop = start + 256
        scores: np.ndarray | None = None
        for space, colours in every:
            part = space[start:stop] @ catalogue_space.T
            if use_colour and colours is not None:
                assert catalogue is not None
                part += colour_weight * (np.nan_to_num(np.asarray(colours[start:stop], np.float32)) @ catalogue.T)
            scores = part if scores is None else np.maximum(scores, part)
        assert scores is not None
        rows = true_rows[start:stop]
        if groups is None:
            own = scores[np.arange(len(rows)), rows]
            ranks[start:stop] = (scores > own[:, None]).sum(axis=1)
        else:
            same = groups[None, :] == groups[rows][:, None]
            own = np.where(same, scores, -np.inf).max(axis=1)
            ranks[start:stop] = ((scores > own[:, None]) & ~same).sum(axis=1)
    return ranks
