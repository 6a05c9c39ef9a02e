"""A hand-built catalogue whose find-similar answers are known: the lab's tests measure on it."""

from __future__ import annotations

import numpy as np

from lab import relevance
from visualsearch.index.base import FULL_DIMS

# --- A catalogue whose answers are known ---------------------------------------------------
#
# Two groups far apart (orthogonal directions):
#   X: 6 Tshirts (Topwear, Apparel), equally close to each other; 3 Red for Men, 3 Blue for Women.
#   Y: 3 pairs of near twins, one Jeans and one Trousers each (Bottomwear, Legwear, Blue, Men);
#      a product's nearest neighbour is its twin, of the other type.
# Find similar (k=5) of an X product: the 5 other Tshirts (P@5 type 1, P@1 1, colour 2/5).
# Of a Y product: the 5 others of Y, 2 of its type (P@5 type 2/5), its twin first (P@1 0).
# With "same gender" a Red (Men) Tshirt finds its 2 Red mates, then 3 of Y (P@5 2/5); a Blue
# (Women) one finds only its 2 Blue mates, the 3 missing results count as misses (P@5 2/5).

X = [("Tshirts", "Topwear", "Apparel", "Red", "Men")] * 3 + [("Tshirts", "Topwear", "Apparel", "Blue", "Women")] * 3
Y = [("Jeans", "Bottomwear", "Legwear", "Blue", "Men"), ("Trousers", "Bottomwear", "Legwear", "Blue", "Men")] * 3


def known_vectors() -> np.ndarray:
    vectors = np.zeros((12, FULL_DIMS), dtype=np.float32)
    for i in range(6):
        vectors[i, 0] = 1.0
        vectors[i, 10 + i] = 0.3
    for pair in range(3):
        for twin, sign in ((0, 1.0), (1, -1.0)):
            row = 6 + 2 * pair + twin
            vectors[row, 1] = 1.0
            vectors[row, 20 + pair] = 0.3
            vectors[row, 30 + pair] = 0.02 * sign
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def known_catalogue(extra_unlabelled: int = 0) -> relevance.Catalogue:
    rows = X + Y + [("", "", "", "", "")] * extra_unlabelled
    vectors = known_vectors()
    if extra_unlabelled:
        far = np.zeros((extra_unlabelled, FULL_DIMS), dtype=np.float32)
        far[:, 2] = 1.0
        vectors = np.vstack([vectors, far])
    fields = ("article_type", "sub_category", "master_category", "base_colour", "gender")
    attributes = {name: [row[i] for row in rows] for i, name in enumerate(fields)}
    return relevance.Catalogue(np.arange(100, 100 + len(rows), dtype=np.int64), vectors, attributes)
