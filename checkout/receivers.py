"""django-payments tells us when a payment's status changes: a confirmed payment whose captured
amount and currency are the order's marks its order paid (or, arriving after the order was
released, is refunded); one that does not match flags the order for staff and leaves it unpaid. A rejected
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
from orders.services import order_flag_payment, order_mark_paid
from orders.signals import order_refund_needed

logger = logging.getLogger(__name__)


@receiver(status_changed)
def payment_status_changed(sender: type, instance: Payment, **kwargs: object) -> None:
    status = instance.status
    if status not in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
        return
    problem = payment_mismatch(instance)
    if problem:
        order_flag_payment(instance.order_id, problem)
        return
    if order_mark_paid(instance.order_id):
        return
    # Paid too late: the order was cancelled (its stock released) meanwhile. Give the money back.
    logger.warning(
        "payment %s arrived for order %s that is no longer pending: refunding it", instance.pk, instance.order
    )
    _refund(instance)


def payment_mismatch(payment: Payment) -> str:
    """Why a confirmed payment does not pay its order ("" when it does): the amount the
    provider captured must be the order's total, in the order's currency. A pre-authorisation
    (nothing captured yet) never pays an order."""
    order = payment.order
    captured = Decimal(str(payment.captured_amount))
    if payment.status == PaymentStatus.PREAUTH:
        return f"Payment {payment.pk} ({payment.variant}) is only pre-authorised: nothing captured."
    if payment.currency.upper() == order.currency.upper() and captured == order.total:
        return ""
    note = f" {payment.fraud_message}" if payment.fraud_message else ""
    return (
        f"Payment {payment.pk} ({payment.variant}) captured {captured} {payment.currency.upper()}, "
        f"the order's total is {order.total} {order.currency}.{note}"
    )


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
