"""Periodic tasks (celery beat, config/settings/celery.py): move buffered events to the
database; delete "nothing close" photos past the retention period."""

from __future__ import annotations

from celery import shared_task

from insights.services import events_flush, unmatched_photos_prune


@shared_task(name="insights.tasks.insights_flush", ignore_result=True)
def insights_flush() -> int:
    return events_flush()


@shared_task(name="insights.tasks.insights_prune", ignore_result=True)
def insights_prune() -> int:
    return unmatched_photos_prune()
