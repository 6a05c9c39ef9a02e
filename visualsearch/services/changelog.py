"""Writes of the index change log: every web process's index reads it past its watermark."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from visualsearch.conf import vs_settings
from visualsearch.models import IndexChange


def index_changes_record(product_ids: Iterable[int]) -> None:
    """Tell every web process's index that these products changed (read within seconds)."""
    IndexChange.objects.bulk_create([IndexChange(product_id=pid) for pid in set(product_ids)])


def index_changes_prune() -> int:
    """Drop change-log entries older than VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS. A web
    process that has not looked at the log for half that long reloads its whole index."""
    hours = vs_settings.INDEX_CHANGE_RETENTION_HOURS
    deleted, _ = IndexChange.objects.filter(created__lt=timezone.now() - timedelta(hours=hours)).delete()
    return deleted
