"""The shopper photos: fixed (same bytes every run), one per product, drawn from the held-out
products by a hash of the id, and changed like a shopper's photo; and the placed photos (the
product on a larger background) with the product inside their box."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.catalogue import rows_and_photos
from tests.support.images import image_bytes
from visualsearch.ml.shopper_photos import PHOTO_SEED, photo_order, placed_photo, shopper_photo
from visualsearch.query.photo import decode_photo


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


def test_a_placed_photo_holds_the_product_inside_its_box() -> None:
    row, photo = rows_and_photos(1)[0]
    placed = placed_photo(int(row["id"]), photo)
    again = placed_photo(int(row["id"]), photo)
    assert placed.data == again.data  # fixed seed: the same photo every run
    image = Image.open(io.BytesIO(placed.data))
    x0, y0, x1, y1 = placed.box
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert (x1 - x0) * (y1 - y0) < 0.7  # the product is a part of a larger photo
    source = Image.open(io.BytesIO(photo)).convert("RGB")
    region = decode_photo(placed.data, placed.box).pixels
    assert region.shape == (224, 224, 3)
    assert image.width > source.width * 3
