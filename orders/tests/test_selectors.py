"""Reads of orders (orders.selectors): a customer's own orders only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from orders.selectors import order_get_for_user, order_list_for_user
from orders.services import OrderItem
from tests.support.shopping import place_directly, priced_product, variant

pytestmark = pytest.mark.django_db


def test_customers_see_only_their_own_orders(make_product, django_user_model) -> None:
    product = priced_product(make_product, "250.00", {"M": 5})
    asha = django_user_model.objects.create_user("asha", "asha@example.com", "x")
    ravi = django_user_model.objects.create_user("ravi", "ravi@example.com", "x")
    hers = place_directly([OrderItem(variant(product, "M").pk, 1)], "hers", user=asha)
    guest = place_directly([OrderItem(variant(product, "M").pk, 1)], "guest")
    assert list(order_list_for_user(asha)) == [hers]
    assert not order_list_for_user(ravi).exists()
    assert order_get_for_user(asha, hers.number) == hers
    assert order_get_for_user(ravi, hers.number) is None  # another customer's: as if it did not exist
    assert order_get_for_user(AnonymousUser(), guest.number) is None
    assert not order_list_for_user(AnonymousUser()).exists()
