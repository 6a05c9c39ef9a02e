"""The evaluation's shopper photos: fixed (same bytes every run), one per product, drawn from
the held-out products by a hash of the id, and changed like a shopper's photo."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.images import image_bytes
from visualsearch.evaluation.shopper_photos import PHOTO_SEED, photo_order, shopper_photo


def test_photos_are_fixed_per_product_and_seed() -> None:
    source = image_bytes()
    first, again = shopper_photo(7, source), shopper_photo(7, source)
    assert first.data == again.data and first.changes == again.changes
    assert first.changes[-1] == "jpeg"
    assert shopper_photo(7, source, seed=PHOTO_SEED + 1).data != first.data  # training seeds differ
    with Image.open(io.BytesIO(first.data)) as photo:
        assert photo.format == "JPEG" and photo.width > 60


def test_photographed_products_do_not_depend_on_the_rest_of_the_catalogue() -> None:
    ids = list(range(1, 2001))
    chosen = photo_order(ids)[:50]
    assert photo_order(ids[::-1])[:50] == chosen
    # More products around them: the earlier choices keep their order among themselves.
    grown = photo_order([*ids, *range(5000, 7000)])
    assert [p for p in grown if p in set(chosen)] == chosen
