"""Shoppers' photos are theirs: what is kept of a "nothing close" photo goes after the retention
period (the periodic task), and previews go when keeping them is turned off."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from insights.models import UnmatchedPhoto
from insights.services import preview_shrink
from insights.tasks import insights_prune
from tests.support.images import image_bytes

pytestmark = pytest.mark.django_db


def _photo(age: timedelta) -> UnmatchedPhoto:
    return UnmatchedPhoto.objects.create(at=timezone.now() - age, vector=b"\0" * 16, preview=b"jpeg")


def test_the_periodic_task_deletes_photos_older_than_the_retention_period(settings) -> None:
    settings.INSIGHTS_RETENTION_DAYS = 30
    old = _photo(timedelta(days=31))
    recent = _photo(timedelta(days=29))
    insights_prune.delay()  # eager in the tests: runs now
    assert not UnmatchedPhoto.objects.filter(pk=old.pk).exists()
    assert UnmatchedPhoto.objects.filter(pk=recent.pk).exists()


def test_a_shorter_retention_deletes_sooner(settings) -> None:
    settings.INSIGHTS_RETENTION_DAYS = 2
    _photo(timedelta(days=3))
    kept = _photo(timedelta(days=1))
    insights_prune()
    assert list(UnmatchedPhoto.objects.values_list("pk", flat=True)) == [kept.pk]


def test_turning_previews_off_removes_the_previews_already_kept(settings) -> None:
    photo = _photo(timedelta(days=1))
    settings.INSIGHTS_KEEP_PREVIEWS = False
    insights_prune()
    photo.refresh_from_db()
    assert photo.preview is None and photo.vector


def test_a_preview_is_at_most_96_pixels() -> None:
    big = image_bytes(size=(1200, 800))
    small = preview_shrink("data:image/jpeg;base64," + base64.b64encode(big).decode())
    assert small is not None
    with Image.open(io.BytesIO(small)) as image:
        assert image.size == (96, 64)


def test_a_preview_that_is_not_an_image_is_not_kept() -> None:
    assert preview_shrink("data:image/jpeg;base64,bm90IGFuIGltYWdl") is None
    assert preview_shrink("garbage") is None
