"""The staff side of orders (orders.admin): list, search, filters and the actions, each
recorded in the admin log, stock returned on cancel."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from orders.models import Order, OrderStatus
from orders.services import (
    OrderItem,
    order_mark_paid,
)
from tests.support.shopping import place_directly, priced_product, variant


@pytest.mark.django_db
def test_admin_lists_searches_and_acts_on_orders(client, django_user_model, make_product) -> None:
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-12345-abc")
    client.force_login(staff)
    product = priced_product(make_product, "250.00", {"M": 5})
    paid = place_directly([OrderItem(variant(product, "M").pk, 1)], "paid")
    order_mark_paid(paid.pk)
    pending = place_directly([OrderItem(variant(product, "M").pk, 2)], "pending")
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
