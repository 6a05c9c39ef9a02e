"""When photo search needs no second forward pass: one item found alone over most of the photo
(``whole_photo_suffices``); the served item is then the whole photo's (``located_items``)."""

from __future__ import annotations

import numpy as np
from django.test import override_settings

from visualsearch.ml.localiser import Detection
from visualsearch.query.locating import located_items, whole_photo_suffices

LARGE = Detection((0.05, 0.02, 0.95, 0.98), 0.9)  # 0.86 of the photo
SMALL = Detection((0.2, 0.2, 0.6, 0.7), 0.8)  # 0.20


def test_one_item_over_most_of_the_photo_is_searched_whole() -> None:
    assert whole_photo_suffices([LARGE])
    assert not whole_photo_suffices([SMALL])
    assert not whole_photo_suffices([LARGE, SMALL])  # beside another item: its box
    assert not whole_photo_suffices([])
    assert not whole_photo_suffices([Detection((0.1, 0.05, 0.9, 0.95), 0.9)])  # 0.72: below the default
    with override_settings(VISUALSEARCH_LOCALISER_WHOLE_PHOTO_AREA=1.01):
        assert not whole_photo_suffices([LARGE])  # above 1: every box embedded
        assert not whole_photo_suffices([LARGE], studio=True)
    with override_settings(VISUALSEARCH_LOCALISER_WHOLE_PHOTO_AREA=0.19):
        assert whole_photo_suffices([SMALL])
    # On a studio-white backdrop (the catalogue's framing) one item of any size: the whole photo.
    assert whole_photo_suffices([SMALL], studio=True)
    assert not whole_photo_suffices([LARGE, SMALL], studio=True)


def test_located_items_use_the_whole_photo_or_the_boxes() -> None:
    rng = np.random.default_rng(0)
    whole = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    crops = rng.integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    whole_vector, vectors = rng.random(2048).astype(np.float32), rng.random((2, 2048)).astype(np.float32)
    (item,) = located_items([LARGE], crops[:1], vectors[:1], whole, whole_vector)
    assert item.box == LARGE.box and item.source == "detected" and item.score == 0.9
    assert np.array_equal(item.vector, whole_vector[np.newaxis])
    (item,) = located_items([SMALL], crops[:1], vectors[:1], whole, whole_vector)
    assert np.array_equal(item.vector, np.vstack([vectors[0], whole_vector]))  # its box, then the whole photo
    (item,) = located_items([SMALL], crops[:1], vectors[:1], whole, whole_vector, studio=True)
    assert np.array_equal(item.vector, whole_vector[np.newaxis])
    first, second = located_items([LARGE, SMALL], crops, vectors, whole, whole_vector)
    assert np.array_equal(first.vector, vectors[:1]) and np.array_equal(second.vector, vectors[1:])
