"""The index change log is pruned past its retention (a process idle past that horizon
reloads: test_loading)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from visualsearch.models import IndexChange
from visualsearch.services import changelog

pytestmark = pytest.mark.django_db


def test_prune_drops_only_entries_past_the_retention(settings, make_product) -> None:
    settings.VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS = 48
    product = make_product()
    IndexChange.objects.all().delete()
    changelog.index_changes_record([product.pk])
    old = IndexChange.objects.create(product_id=product.pk)
    IndexChange.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=49))
    assert changelog.index_changes_prune() == 1
    assert IndexChange.objects.count() == 1
