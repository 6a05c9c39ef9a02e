"""Same-picture twins (visualsearch.services.head_figures): found by image checksum or by
stored vectors with cosine ≥ 0.9999; photo figures count a twin found as the photographed
product, the strict figures beside them only the product itself. No database, no model."""

from __future__ import annotations

import numpy as np

from visualsearch.ml.photo_projection import self_ranks
from visualsearch.services.head_figures import TWIN_COSINE, HeadData, catalogue_twins, photo_per_photo
from visualsearch.services.photo_pairs import EmbeddedPhotoSet


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def catalogue(count: int = 400, seed: int = 0) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((count, 2048)))


def test_twins_by_checksum_and_by_nearly_identical_vectors() -> None:
    vectors = catalogue()
    vectors[10] = vectors[3]  # the same picture, the same vector
    nudged = vectors[7] + 0.001 * unit(np.random.default_rng(1).standard_normal((1, 2048)))[0]
    vectors[20] = nudged / np.linalg.norm(nudged)  # re-encoded: cosine just above the threshold
    assert float(vectors[20] @ vectors[7]) >= TWIN_COSINE
    far = vectors[8] + 0.05 * unit(np.random.default_rng(2).standard_normal((1, 2048)))[0]
    vectors[30] = far / np.linalg.norm(far)  # alike, not the same picture
    assert float(vectors[30] @ vectors[8]) < TWIN_COSINE
    checksums = np.asarray([""] * len(vectors), dtype=object)
    checksums[[100, 200, 300]] = "same-bytes"  # byte-identical files, vectors computed apart
    twins = catalogue_twins(vectors, checksums)
    group = twins.group
    assert group[10] == group[3] and group[20] == group[7]
    assert group[100] == group[200] == group[300]
    assert group[30] != group[8] and len({group[3], group[7], group[100]}) == 3
    assert twins.summary() == {"products": 7, "groups": 3}
    assert catalogue_twins(catalogue(50)).summary() == {"products": 0, "groups": 0}


def test_self_ranks_counts_the_best_twin_and_never_ranks_a_twin_against_the_item() -> None:
    space = catalogue(50)
    nudged = space[10] + 0.001 * catalogue(1, seed=3)[0]
    space[11] = nudged / np.linalg.norm(nudged)  # the same picture, re-encoded
    query = space[[10]]  # a photo of product 11 that looks exactly like its twin 10
    groups = np.arange(50)
    groups[11] = 10
    strict = self_ranks(query, space, np.asarray([11]))
    together = self_ranks(query, space, np.asarray([11]), groups=groups)
    assert strict[0] == 1  # strictly, the twin 10 is ahead of product 11
    assert together[0] == 0  # as an item, the pair is found first


def test_photo_figures_count_a_twin_and_keep_the_strict_figures_beside() -> None:
    vectors = catalogue(300)
    vectors[1] = vectors[0]  # product 0 listed twice
    ids = np.arange(1, 301)
    labels = {name: np.asarray(["x"] * 300) for name in ("article_type", "base_colour", "gender", "sub_category")}
    data = HeadData(ids, vectors, np.full((300, 196), np.nan, np.float32), labels)
    # Photos of products 1 (its twin 0 ties and is listed first) and 5 (no twin).
    rows = np.asarray([1, 5])
    photos = EmbeddedPhotoSet(rows, vectors[rows], np.zeros((2, 196), np.float32))
    per_photo = photo_per_photo(data, None, photos)
    assert list(per_photo["self_at_1"]) == [1.0, 1.0]
    assert list(per_photo["strict_self_at_5"]) == [1.0, 1.0]
    assert per_photo["strict_self_at_1"][1] == 1.0
