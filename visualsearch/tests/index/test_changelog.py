"""The index change log is pruned, and a process idle past the pruning horizon reloads."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.embeddings import store_vector
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.models import IndexChange
from visualsearch.services import changelog

pytestmark = pytest.mark.django_db


def _embed(product, seed: int) -> None:
    store_vector(product, seed=seed)
    changelog.index_changes_record([product.pk])


def test_prune_drops_only_entries_past_the_retention(settings, make_product) -> None:
    settings.VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS = 48
    product = make_product()
    IndexChange.objects.all().delete()
    changelog.index_changes_record([product.pk])
    old = IndexChange.objects.create(product_id=product.pk)
    IndexChange.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=49))
    assert changelog.index_changes_prune() == 1
    assert IndexChange.objects.count() == 1


def test_a_process_idle_past_half_the_retention_reloads_everything(settings, make_product) -> None:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0
    settings.VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS = 48
    products = [make_product() for _ in range(3)]
    for seed, product in enumerate(products):
        _embed(product, seed)
    index = EmbeddingIndex()
    assert len(index) == 3
    loads = index.stats["full_loads"]
    # A deactivation whose log entry is then pruned away: only a full reload can see it.
    products[0].is_active = False
    products[0].save()
    IndexChange.objects.all().delete()
    index.ensure_fresh()
    assert products[0].pk in index  # a fresh process would not see the pruned change...
    index._last_check = time.monotonic() - 25 * 3600  # ...but one idle for 25 hours reloads
    index.ensure_fresh()
    assert index.stats["full_loads"] == loads + 1
    assert products[0].pk not in index
