"""Payments and their orders (checkout.receivers): a failed payment leaves the order
unpaid until its stock is released; a cancelled or refunded order gets its payment refunded; a
payment arriving after the release is refunded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services import orders_release_expired
from tests.support.shopping import add_to_bag, checkout_to_review, pay, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


def test_payment_failure_leaves_no_paid_order_and_the_stock_is_released(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2})
    add_to_bag(client, variant(product, "M"), 2)
    order_number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    assert variant(product, "M").stock == 0
    failed = pay(client, order_number, status="rejected")
    assert failed.url == reverse("checkout:payment_failed", args=[order_number])
    assert "Try paying again" in client.get(failed.url).content.decode()
    order = Order.objects.get(number=order_number)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not Order.objects.filter(status=OrderStatus.PAID).exists()
    # Not yet timed out: nothing released.
    assert orders_release_expired() == []
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=1))
    assert orders_release_expired() == [order_number]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.stock_released
    assert variant(product, "M").stock == 2
    assert orders_release_expired() == []  # once only
    assert "went back on sale" in client.get(failed.url).content.decode()


def test_cancelling_a_paid_order_refunds_its_payment_and_returns_stock(client, make_product) -> None:
    from payments import PaymentStatus

    from orders.services import order_cancel, order_mark_delivered, order_mark_shipped, order_refund

    product = priced_product(make_product, "500.00", {"M": 3})
    add_to_bag(client, variant(product, "M"), 2)
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number)
    order = Order.objects.get(number=number)
    assert order.status == OrderStatus.PAID and variant(product, "M").stock == 1
    order_cancel(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and variant(product, "M").stock == 3
    assert order.payments.get().status == PaymentStatus.REFUNDED
    # A delivered order refunded: money back, stock unchanged until the goods come back.
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number)
    order = Order.objects.get(number=number)
    order_mark_delivered(order_mark_shipped(order))
    order_refund(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and variant(product, "M").stock == 2
    assert order.payments.get().status == PaymentStatus.REFUNDED


def test_a_payment_arriving_after_the_release_is_refunded(client, make_product) -> None:
    """A provider confirming late (e.g. a Stripe webhook after the timeout): the order stays
    cancelled, its stock stays released, and the payment is refunded."""
    from payments import PaymentStatus

    from checkout.services import payment_for_order

    product = priced_product(make_product, "500.00", {"M": 1})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    order = Order.objects.get(number=number)
    payment = payment_for_order(order)
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=1))
    assert orders_release_expired() == [number]
    payment.captured_amount = payment.total  # the provider captured the whole total
    payment.save()
    payment.change_status(PaymentStatus.CONFIRMED)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and variant(product, "M").stock == 1
    assert payment.status == PaymentStatus.REFUNDED
    # The payment page no longer takes money for it.
    response = client.get(reverse("checkout:payment", args=[number]), follow=True)
    assert "went back on sale" in response.content.decode()
