"""python manage.py release_unpaid_orders (orders/management/commands)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.models import Order
from orders.services import (
    OrderItem,
)
from tests.support.shopping import place_directly, priced_product, variant


@pytest.mark.django_db
def test_release_command_releases_unpaid_orders(make_product) -> None:
    product = priced_product(make_product, "250.00", {"M": 3})
    old = place_directly([OrderItem(variant(product, "M").pk, 1)], "old")
    place_directly([OrderItem(variant(product, "M").pk, 1)], "new")
    Order.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(minutes=31))
    out = io.StringIO()
    call_command("release_unpaid_orders", stdout=out)
    assert "Released 1 unpaid order(s)." in out.getvalue()
    assert variant(product, "M").stock == 2
