"""Thin Celery tasks over bag.services."""

from __future__ import annotations

from celery import shared_task

from bag import services


@shared_task
def bags_prune_abandoned() -> int:
    return services.bags_prune_abandoned()
