"""Catalogues whose look order is known: product 0 is the query, and product i looks less like
it the larger i is (a vector at a growing angle from product 0's)."""

from __future__ import annotations

import numpy as np

from shop.models import Product
from tests.support.catalogue import stored_catalogue


def fanned_vectors(count: int, seed: int = 0) -> list[bytes]:
    """Unit vectors: the first is a random direction, the i-th leans away from it by
    ``0.15 i`` of a random orthogonal-ish direction (cosine to the first falls with i)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(2048)
    base /= np.linalg.norm(base)
    vectors = []
    for i in range(count):
        noise = rng.standard_normal(2048)
        noise /= np.linalg.norm(noise)
        vector = base + 0.15 * i * noise
        vectors.append((vector / np.linalg.norm(vector)).astype("<f4").tobytes())
    return vectors


def fanned_catalogue(count: int, seed: int = 0) -> list[Product]:
    """``count`` real catalogue products with done embeddings in look order from product 0
    (each with one size in stock)."""
    return stored_catalogue(count, fanned_vectors(count, seed))
