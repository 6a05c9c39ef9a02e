"""Back-in-stock alerts and the orders (apart from stockalerts' own tests, which stand on the
shop alone): an order cancelled returns its stock, and whoever waited for it gets the e-mail."""

from __future__ import annotations

import pytest
from django.core import mail

from orders.services import OrderItem, order_cancel
from stockalerts.models import StockAlert
from stockalerts.services import stock_alert_subscribe
from tests.support.shopping import place_directly, priced_product, variant

pytestmark = pytest.mark.django_db


def test_an_order_cancelled_returns_stock_and_alerts(make_product, django_capture_on_commit_callbacks) -> None:
    product = priced_product(make_product, sizes={"M": 1})
    with django_capture_on_commit_callbacks(execute=True):
        order = place_directly([OrderItem(variant(product, "M").pk, 1)], "alerts-order-1")
    assert variant(product, "M").stock == 0
    stock_alert_subscribe(product=product, email="waiting@example.com", variant=variant(product, "M"))
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order)
    assert [m.to for m in mail.outbox] == [["waiting@example.com"]]
    assert StockAlert.objects.get().status == StockAlert.Status.NOTIFIED
