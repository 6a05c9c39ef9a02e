"""The photo-search measurements (visualsearch.evaluation.photo_quality): the placed photos
and their boxes, the non-fashion set, the threshold choice and the report; the real run is
``python manage.py photo_quality`` (figures in the README, "Photo search")."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.support.catalogue import rows_and_photos
from visualsearch.evaluation import photo_quality
from visualsearch.query.photo import decode_photo


def test_a_placed_photo_holds_the_product_inside_its_box() -> None:
    row, photo = rows_and_photos(1)[0]
    placed = photo_quality.placed_photo(int(row["id"]), photo)
    again = photo_quality.placed_photo(int(row["id"]), photo)
    assert placed.data == again.data  # fixed seed: the same photo every run
    image = Image.open(io.BytesIO(placed.data))
    x0, y0, x1, y1 = placed.box
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert (x1 - x0) * (y1 - y0) < 0.7  # the product is a part of a larger photo
    source = Image.open(io.BytesIO(photo)).convert("RGB")
    region = decode_photo(placed.data, placed.box).pixels
    assert region.shape == (224, 224, 3)
    assert image.width > source.width * 3


def test_the_non_fashion_set_and_the_threshold_choice() -> None:
    images = photo_quality.non_fashion_photos()
    names = [n for n, _d in images]
    assert len(images) == 24 * 3 + 60 and "astronaut" in names and "gradient 1" in names
    genuine = np.array([0.8, 0.85, 0.9, 0.95, 0.66])
    other = np.array([0.4, 0.5, 0.55, 0.7])
    threshold = photo_quality.choose_threshold(genuine, other)
    # Refusing the 0.66 photo would cost 2 × 1/5; passing the 0.7 image costs 1/4.
    assert threshold == 0.605
    assert photo_quality.choose_threshold(np.array([0.8, 0.9]), np.array([0.4, 0.5])) == 0.65
    report = photo_quality.ThresholdReport(
        threshold,
        genuine,
        other,
        ["a", "b", "c", "d"],
        float(np.mean(genuine < threshold)),
        float(np.mean(other >= threshold)),
        genuine,
    )
    lines = "\n".join(photo_quality.report_lines(None, report))
    assert f"threshold {threshold:.3f}" in lines and "non-fashion images shown as a match" in lines
