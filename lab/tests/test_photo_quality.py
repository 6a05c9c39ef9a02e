"""The photo-search measurements (lab.photo_quality): the non-fashion set, the threshold
choice and the report; the real run is ``python manage.py photo_quality`` (its figures: the
docs, "Photo search"). The placed photos it searches are tested with their generator
(visualsearch/tests/ml/test_shopper_photos.py)."""

from __future__ import annotations

import numpy as np

from lab import photo_quality


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
