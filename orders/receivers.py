"""Orders' own announcements turned into background work: a paid order's confirmation email
is queued (``tasks.order_confirmation_email``). The services send the signal; only this module
and the tasks know Celery."""

from __future__ import annotations

from django.dispatch import receiver

from orders import tasks
from orders.signals import order_paid


@receiver(order_paid)
def order_confirmation_queue(sender: type, order_id: int, **kwargs: object) -> None:
    tasks.order_confirmation_email.delay(order_id)
