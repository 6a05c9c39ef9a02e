"""django-payments tells us when a payment's status changes: a confirmed (or pre-authorised)
payment marks its order paid (or, arriving after the order was released, is refunded). A rejected
or abandoned one leaves the order pending payment; ``orders_release_expired`` releases its stock
after the timeout. Cancelled or refunded orders get their payments refunded here."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.dispatch import receiver
from payments import PaymentStatus
from payments.signals import status_changed

from checkout.models import Payment
from orders.models import Order
from orders.services import order_mark_paid
from orders.signals import order_refund_needed

logger = logging.getLogger(__name__)


@receiver(status_changed)
def payment_status_changed(sender: type, instance: Payment, **kwargs: object) -> None:
    status = instance.status
    if status not in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
        return
    if order_mark_paid(instance.order_id):
        return
    # Paid too late: the order was cancelled (its stock released) meanwhile. Give the money back.
    logger.warning(
        "payment %s arrived for order %s that is no longer pending: refunding it", instance.pk, instance.order
    )
    if status == PaymentStatus.PREAUTH:
        instance.release()
    else:
        _refund(instance)


@receiver(order_refund_needed)
def refund_order_payments(sender: type, order: Order, **kwargs: object) -> None:
    """Give the money of a cancelled or refunded order back through its payment provider (a
    provider error undoes the cancellation: the admin shows it)."""
    for payment in order.payments.filter(status__in=[PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH]):
        if payment.status == PaymentStatus.PREAUTH:
            payment.release()
        else:
            _refund(payment)


def _refund(payment: Payment) -> None:
    # A freshly created instance holds the field's string default ("0.0"): make it a Decimal.
    payment.captured_amount = Decimal(str(payment.captured_amount))
    payment.refund(payment.captured_amount or None)
