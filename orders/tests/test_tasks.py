"""Orders' Celery tasks (orders.tasks): the periodic release of unpaid orders and the
confirmation email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Order
from orders.services import (
    OrderItem,
)
from orders.tasks import order_confirmation_email
from tests.support.shopping import place_directly, priced_product, variant


@pytest.mark.django_db
def test_the_release_runs_as_a_periodic_celery_task(make_product, settings) -> None:
    from config.celery import app
    from orders.tasks import orders_release_expired

    schedule = app.conf.beat_schedule
    assert schedule["orders-release-expired"]["task"] == "orders.tasks.orders_release_expired"
    assert app.conf.task_routes["orders.tasks.*"] == {"queue": "shop"}
    product = priced_product(make_product, "250.00", {"M": 3})
    order = place_directly([OrderItem(variant(product, "M").pk, 3)], "t")
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=2))
    assert orders_release_expired.delay().get() == 1
    assert variant(product, "M").stock == 3


@pytest.mark.django_db
def test_the_confirmation_email_task_sends_the_order(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3}, name="Mail Tee")
    order = place_directly([OrderItem(variant(product, "M").pk, 2)], "mail")
    order_confirmation_email.delay(order.pk).get()  # tasks run in-process in the tests
    (message,) = mail.outbox
    assert message.to == ["a@example.com"] and message.subject == f"Your Lookalike order {order.number}"
    assert "Mail Tee (size M)" in message.body
    assert [mimetype for _content, mimetype in message.alternatives] == ["text/html"]
