"""Orders' own announcements turned into background work: a paid order's confirmation email
is queued (``tasks.order_confirmation_email``), a shipped order's shipping e-mail
(``tasks.order_shipping_email``). The services send the signal; only this module
and the tasks know Celery."""

from __future__ import annotations

from django.dispatch import receiver

from orders import tasks
from orders.signals import order_paid, order_shipped


@receiver(order_paid)
def order_confirmation_queue(sender: type, order_id: int, **kwargs: object) -> None:
    tasks.order_confirmation_email.delay(order_id)


@receiver(order_shipped)
def order_shipping_email_queue(sender: type, order_id: int, **kwargs: object) -> None:
    tasks.order_shipping_email.delay(order_id)
