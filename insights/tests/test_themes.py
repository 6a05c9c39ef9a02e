"""Grouping "nothing close" photos into themes: synthetic vectors around three looks come out
as three themes of the right sizes, each photo in its own look's theme."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from insights.clustering import themes_cluster
from insights.models import UnmatchedPhoto
from insights.selectors import DateRange, unmatched_themes


def _looks(sizes: tuple[int, ...], *, dims: int = 2048, noise: float = 0.5, seed: int = 3):
    """Vectors around len(sizes) random centres (two photos of one look: cosine about 0.8; of
    two looks: about 0), and each vector's look."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(sizes), dims))
    rows, looks = [], []
    for look, size in enumerate(sizes):
        for _ in range(size):
            rows.append(centres[look] + noise * rng.standard_normal(dims))
            looks.append(look)
    return np.asarray(rows, dtype=np.float32), np.asarray(looks)


def test_synthetic_looks_come_out_as_their_themes_largest_first() -> None:
    vectors, looks = _looks((12, 7, 4))
    labels = themes_cluster(vectors, distance=0.35)
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    for look in range(3):
        (theme,) = set(labels[looks == look].tolist())
        assert theme == look  # the largest look is theme 0, then by size
    assert np.bincount(labels).tolist() == [12, 7, 4]


def test_one_photo_is_one_theme_and_none_is_none() -> None:
    assert themes_cluster(np.zeros((0, 8)), distance=0.35).tolist() == []
    assert themes_cluster(np.ones((1, 8)), distance=0.35).tolist() == [0]


@pytest.mark.django_db
def test_the_dashboards_themes_count_the_kept_photos_with_their_previews() -> None:
    vectors, _ = _looks((5, 3))
    now = timezone.now()
    UnmatchedPhoto.objects.bulk_create(
        UnmatchedPhoto(
            at=now - timedelta(hours=i), vector=v.astype("<f4").tobytes(), preview=b"\xff\xd8jpeg" if i < 6 else None
        )
        for i, v in enumerate(vectors)
    )
    themes = unmatched_themes(DateRange(timezone.localdate() - timedelta(days=2), timezone.localdate()))
    assert [t.count for t in themes] == [5, 3]
    assert len(themes[0].previews) == 4  # at most four previews per theme
    assert all(p.startswith("data:image/jpeg;base64,") for p in themes[0].previews)
