"""Thin Celery tasks over orders.services."""

from __future__ import annotations

from celery import shared_task

from orders import services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def order_confirmation_email(order_id: int) -> None:
    services.order_confirmation_send(order_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def order_shipping_email(order_id: int) -> bool:
    return services.order_shipping_email_send(order_id)


@shared_task
def orders_release_expired() -> int:
    return len(services.orders_release_expired())
