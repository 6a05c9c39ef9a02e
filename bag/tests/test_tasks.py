"""The bag's periodic task (bag.tasks) runs the pruning service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bag.models import Bag
from bag.tasks import bags_prune_abandoned

pytestmark = pytest.mark.django_db


def test_the_prune_task_deletes_abandoned_anonymous_bags() -> None:
    old = Bag.objects.create()
    kept = Bag.objects.create()
    Bag.objects.filter(pk=old.pk).update(updated=timezone.now() - timedelta(days=31))
    assert bags_prune_abandoned.delay().get() == 1  # tasks run in-process in the tests
    assert list(Bag.objects.all()) == [kept]
