"""Writes of orders (orders.services): placing one reserves stock under row locks, never
oversold nor negative (20 concurrent checkouts for 3 units), one order per idempotency key;
paying, shipping, delivering, cancelling and refunding; releasing unpaid orders; the
confirmation email."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput
from orders.models import Order, OrderStatus
from orders.services import (
    OrderItem,
    OrderStateError,
    OutOfStock,
    PriceChanged,
    order_cancel,
    order_mark_delivered,
    order_mark_paid,
    order_mark_shipped,
    order_refund,
    orders_release_expired,
)
from shop.models import Product, ProductVariant
from tests.support.products import PRODUCT_ATTRIBUTES
from tests.support.shopping import add_to_bag, checkout_to_review, pay, place_directly, priced_product, variant


@pytest.mark.django_db
def test_order_place_reserves_stock_and_snapshots_lines(make_product) -> None:
    product = priced_product(make_product, "250.00", {"S": 2, "M": 1}, name="Snap Tee")
    s, m = variant(product, "S"), variant(product, "M")
    order = place_directly([OrderItem(s.pk, 1), OrderItem(m.pk, 1), OrderItem(s.pk, 1)], "k1")
    assert order.total == Decimal("750.00")
    assert [(line.size, line.quantity) for line in order.lines.all()] == [("S", 2), ("M", 1)]
    assert variant(product, "S").stock == 0 and variant(product, "M").stock == 0
    # Later catalogue edits do not change the order.
    product.name, product.price = "Renamed", Decimal("1.00")
    product.save()
    line = order.lines.get(size="S")
    assert (line.product_name, line.unit_price) == ("Snap Tee", Decimal("250.00"))
    # Sold out: a clear error naming what, nothing reserved.
    with pytest.raises(OutOfStock) as excinfo:
        place_directly([OrderItem(m.pk, 1)], "k2")
    assert "Renamed (size M) is sold out" in excinfo.value.message
    assert Order.objects.count() == 1
    # The same key again: the same order, nothing reserved twice.
    assert place_directly([OrderItem(s.pk, 1)], "k1").pk == order.pk


@pytest.mark.django_db
def test_cancel_returns_stock_and_paid_after_release_is_not_marked(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    order = place_directly([OrderItem(variant(product, "M").pk, 2)], "k")
    assert variant(product, "M").stock == 1
    order_cancel(order)
    assert variant(product, "M").stock == 3
    order_cancel_again = Order.objects.get(pk=order.pk)
    assert order_cancel_again.status == OrderStatus.CANCELLED and order_cancel_again.stock_released
    assert order_mark_paid(order.pk) is False  # a late payment needs staff attention
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


@pytest.mark.django_db
def test_order_place_refuses_empty_orders_missing_keys_and_a_changed_total(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    m = variant(product, "M")
    with pytest.raises(InvalidInput, match="Your bag is empty"):
        place_directly([], "k")
    with pytest.raises(InvalidInput, match="idempotency key"):
        place_directly([OrderItem(m.pk, 1)], "")
    with pytest.raises(InvalidInput, match="at least 1"):
        place_directly([OrderItem(m.pk, 0)], "k")
    with pytest.raises(InvalidInput, match="no longer exist"):
        place_directly([OrderItem(m.pk, 1), OrderItem(m.pk + 100_000, 1)], "k")
    with pytest.raises(PriceChanged) as excinfo:
        place_directly([OrderItem(m.pk, 2)], "k", expected_total=Decimal("400.00"))
    assert (excinfo.value.expected, excinfo.value.actual) == (Decimal("400.00"), Decimal("500.00"))
    assert not Order.objects.exists() and variant(product, "M").stock == 3


@pytest.mark.django_db
def test_paid_shipped_delivered_and_the_refusals_on_the_way(make_product, django_capture_on_commit_callbacks) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    order = place_directly([OrderItem(variant(product, "M").pk, 1)], "k")
    with pytest.raises(OrderStateError, match="not paid: not shipped"):
        order_mark_shipped(order)
    with pytest.raises(OrderStateError, match="nothing to refund"):
        order_refund(order)
    with django_capture_on_commit_callbacks(execute=True):
        assert order_mark_paid(order.pk) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert order_mark_paid(order.pk) is True  # paid again: still paid, no second email
    assert len(mail.outbox) == 1 and order.number in mail.outbox[0].subject
    with pytest.raises(OrderStateError, match="has not been shipped"):
        order_mark_delivered(order)
    order = order_mark_delivered(order_mark_shipped(order))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED
    with pytest.raises(OrderStateError, match="cannot be cancelled"):
        order_cancel(order)
    assert variant(product, "M").stock == 2  # delivered goods stay sold


@pytest.mark.django_db
def test_release_expired_cancels_only_old_unpaid_orders(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 5})
    old = place_directly([OrderItem(variant(product, "M").pk, 1)], "old")
    paid = place_directly([OrderItem(variant(product, "M").pk, 1)], "paid")
    order_mark_paid(paid.pk)
    fresh = place_directly([OrderItem(variant(product, "M").pk, 1)], "fresh")
    Order.objects.filter(pk__in=[old.pk, paid.pk]).update(created=timezone.now() - timedelta(minutes=31))
    assert orders_release_expired() == [old.number]
    assert variant(product, "M").stock == 3
    assert orders_release_expired(older_than=timedelta(0)) == [fresh.number]
    assert variant(product, "M").stock == 4
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID


# --- 20 shoppers, 3 units ------------------------------------------------------------------------


def _shopper(product, size: str) -> tuple[Client, object]:
    client = Client()
    add_to_bag(client, variant(product, size))
    review = checkout_to_review(client)
    return client, review


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_checkouts_for_three_units(make_product, capsys) -> None:
    """Each shopper has the last size in the bag and clicks "Place order" at the same moment,
    in its own thread with its own database connection and real transactions."""
    assert connection.vendor == "postgresql"
    # bulk_create: no save signal, so no embedding task (which would load TensorFlow here).
    (product,) = Product.objects.bulk_create(
        [Product(name="Hot Tee", price=Decimal("999.00"), image="products/hot-tee.jpg", **PRODUCT_ATTRIBUTES)]
    )
    ProductVariant.objects.create(product=product, size="M", stock=3)
    shoppers = [_shopper(product, "M") for _ in range(20)]
    barrier = threading.Barrier(len(shoppers))
    results: list[tuple[int, str, float]] = [None] * len(shoppers)  # type: ignore[list-item]

    def run(i: int) -> None:
        from django.db import connection as thread_connection

        client, review = shoppers[i]
        data = {
            "idempotency_key": review.context["idempotency_key"],
            "expected_total": str(review.context["quote"].total),
        }
        try:
            barrier.wait()
            started = time.perf_counter()
            response = client.post(reverse("checkout:review"), data)
            elapsed = time.perf_counter() - started
            if response.status_code == 302:
                number = response.url.split("/")[-3]
                paid = pay(client, number)
                results[i] = (302, paid.url, elapsed)
            else:
                results[i] = (response.status_code, response.content.decode(), elapsed)
        finally:
            thread_connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(shoppers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    wall = time.perf_counter() - started

    ok = [r for r in results if r and r[0] == 302]
    sold_out = [r for r in results if r and r[0] == 409 and "Hot Tee (size M) is sold out" in r[1]]
    assert len(ok) == 3 and all("/thanks/" in r[1] for r in ok)
    assert len(sold_out) == 17
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 3
    assert Order.objects.count() == 3
    assert ProductVariant.objects.get(product=product, size="M").stock == 0
    place_times = sorted(r[2] for r in results)
    with capsys.disabled():
        print(
            f"\n20 concurrent checkouts for 3 units: 3 paid, 17 sold out, stock 0; "
            f"wall {wall:.2f} s, place-order p50 {place_times[9] * 1000:.0f} ms, max {place_times[-1] * 1000:.0f} ms"
        )
