"""Placing orders: stock reserved under row locks, never oversold nor negative (20 concurrent
checkouts for 3 units), one order per idempotency key, release of unpaid orders, and the staff
actions in the admin (recorded in the admin log, stock returned on cancel)."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services import (
    OrderItem,
    OutOfStock,
    ShippingAddress,
    order_cancel,
    order_mark_paid,
    order_place,
)
from shop.models import Product, ProductVariant
from tests.support.products import PRODUCT_ATTRIBUTES
from tests.support.shopping import add_to_bag, checkout_to_review, pay, priced_product, variant

ADDRESS = ShippingAddress("Asha Shopper", "12 MG Road", "Bengaluru", "560001", "India")


def place(items: list[OrderItem], key: str, **kwargs) -> Order:
    return order_place(
        items=items,
        email="a@example.com",
        address=ADDRESS,
        shipping_method="standard",
        shipping_method_name="Standard delivery",
        shipping_cost=lambda subtotal: Decimal("0.00"),
        idempotency_key=key,
        **kwargs,
    )


@pytest.mark.django_db
def test_order_place_reserves_stock_and_snapshots_lines(make_product) -> None:
    product = priced_product(make_product, "250.00", {"S": 2, "M": 1}, name="Snap Tee")
    s, m = variant(product, "S"), variant(product, "M")
    order = place([OrderItem(s.pk, 1), OrderItem(m.pk, 1), OrderItem(s.pk, 1)], "k1")
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
        place([OrderItem(m.pk, 1)], "k2")
    assert "Renamed (size M) is sold out" in excinfo.value.message
    assert Order.objects.count() == 1
    # The same key again: the same order, nothing reserved twice.
    assert place([OrderItem(s.pk, 1)], "k1").pk == order.pk


@pytest.mark.django_db
def test_cancel_returns_stock_and_paid_after_release_is_not_marked(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    order = place([OrderItem(variant(product, "M").pk, 2)], "k")
    assert variant(product, "M").stock == 1
    order_cancel(order)
    assert variant(product, "M").stock == 3
    order_cancel_again = Order.objects.get(pk=order.pk)
    assert order_cancel_again.status == OrderStatus.CANCELLED and order_cancel_again.stock_released
    assert order_mark_paid(order.pk) is False  # a late payment needs staff attention
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


@pytest.mark.django_db
def test_release_command_releases_unpaid_orders(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    old = place([OrderItem(variant(product, "M").pk, 1)], "old")
    place([OrderItem(variant(product, "M").pk, 1)], "new")
    Order.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(minutes=31))
    out = io.StringIO()
    call_command("release_unpaid_orders", stdout=out)
    assert "Released 1 unpaid order(s)." in out.getvalue()
    assert variant(product, "M").stock == 2


@pytest.mark.django_db
def test_admin_lists_searches_and_acts_on_orders(client, django_user_model, make_product) -> None:
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-12345-abc")
    client.force_login(staff)
    product = priced_product(make_product, "250.00", {"M": 5})
    paid = place([OrderItem(variant(product, "M").pk, 1)], "paid")
    order_mark_paid(paid.pk)
    pending = place([OrderItem(variant(product, "M").pk, 2)], "pending")
    url = reverse("admin:orders_order_changelist")
    page = client.get(url).content.decode()
    assert paid.number in page and "Paid" in page and "₹250.00" in page and "(guest)" in page
    found = client.get(url, {"q": pending.number}).context["cl"].result_list
    assert [o.pk for o in found] == [pending.pk]
    assert client.get(url, {"status__exact": "paid"}).context["cl"].result_count == 1
    assert client.get(reverse("admin:orders_order_change", args=[paid.pk])).status_code == 200

    client.post(url, {"action": "mark_shipped", "_selected_action": [paid.pk, pending.pk]})
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.SHIPPED
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.PENDING_PAYMENT  # not paid: refused
    client.post(url, {"action": "cancel", "_selected_action": [pending.pk]})
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.CANCELLED
    assert variant(product, "M").stock == 4  # 5 - 1 shipped; the cancelled 2 came back
    messages = set(LogEntry.objects.values_list("object_repr", "change_message"))
    assert (paid.number, "Marked shipped") in messages
    assert (pending.number, "Cancelled, stock returned") in messages


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


@pytest.mark.django_db
def test_the_release_runs_as_a_periodic_celery_task(make_product, settings) -> None:
    from config.celery import app
    from orders.tasks import orders_release_expired

    schedule = app.conf.beat_schedule
    assert schedule["orders-release-expired"]["task"] == "orders.tasks.orders_release_expired"
    assert app.conf.task_routes["orders.tasks.*"] == {"queue": "shop"}
    product = priced_product(make_product, "250.00", {"M": 3})
    order = place([OrderItem(variant(product, "M").pk, 3)], "t")
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=2))
    assert orders_release_expired.delay().get() == 1
    assert variant(product, "M").stock == 3
