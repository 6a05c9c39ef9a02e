"""django-payments tells us when a payment's status changes: a confirmed (or pre-authorised)
payment marks its order paid. A rejected or abandoned one leaves the order pending payment;
``orders_release_expired`` releases its stock after the timeout."""

from __future__ import annotations

from django.dispatch import receiver
from payments import PaymentStatus
from payments.signals import status_changed

from orders.models import Order
from orders.services import order_mark_paid
from orders.signals import order_refund_needed


@receiver(status_changed)
def payment_status_changed(sender: type, instance: object, **kwargs: object) -> None:
    if getattr(instance, "status", None) in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
        order_mark_paid(instance.order_id)  # type: ignore[attr-defined]


@receiver(order_refund_needed)
def refund_order_payments(sender: type, order: Order, **kwargs: object) -> None:
    """Give the money of a cancelled or refunded order back through its payment provider (a
    provider error undoes the cancellation: the admin shows it)."""
    for payment in order.payments.filter(status__in=[PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH]):
        if payment.status == PaymentStatus.PREAUTH:
            payment.release()
        else:
            payment.refund(payment.captured_amount or None)
