"""django-payments tells us when a payment's status changes: a confirmed (or pre-authorised)
payment marks its order paid. A rejected or abandoned one leaves the order pending payment;
``orders_release_expired`` releases its stock after the timeout."""

from __future__ import annotations

from django.dispatch import receiver
from payments import PaymentStatus
from payments.signals import status_changed

from orders.services import order_mark_paid


@receiver(status_changed)
def payment_status_changed(sender: type, instance: object, **kwargs: object) -> None:
    if getattr(instance, "status", None) in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
        order_mark_paid(instance.order_id)  # type: ignore[attr-defined]
