"""Thin Celery tasks over stockalerts.services."""

from __future__ import annotations

from celery import shared_task

from stockalerts import services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def stock_alerts_send(product_ids: list[int]) -> int:
    return services.stock_alerts_send(product_ids)
