"""The anonymous bag follows the shopper when they log in (bag.receivers → bag_login_merge)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bag.models import Bag, BagLine
from tests.support.shopping import add_to_bag, bag_lines, priced_product, variant

pytestmark = pytest.mark.django_db


def test_session_bag_merges_into_the_customer_bag_on_login(client, django_user_model, make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 9, "M": 9}, name="Merge Tee")
    user = django_user_model.objects.create_user("asha", "asha@example.com", "pw-Secret-123")
    # The customer already has M×1 in their stored bag.
    stored = Bag.objects.create(user=user)
    BagLine.objects.create(bag=stored, variant=variant(product, "M"), quantity=1)
    # Anonymous, they add S×2 and M×1.
    add_to_bag(client, variant(product, "S"), 2)
    add_to_bag(client, variant(product, "M"))
    response = client.post(reverse("accounts:login"), {"username": "asha", "password": "pw-Secret-123"})
    assert response.status_code == 302
    assert sorted(bag_lines(client)) == [("Merge Tee", "M", 2), ("Merge Tee", "S", 2)]
    assert Bag.objects.count() == 1  # the session bag was merged and removed
    # Logged out, the bag is kept for the customer and the anonymous session starts empty.
    client.post(reverse("accounts:logout"))
    assert bag_lines(client) == []
    client.post(reverse("accounts:login"), {"username": "asha", "password": "pw-Secret-123"})
    assert len(bag_lines(client)) == 2


def test_anonymous_bag_becomes_the_customer_bag_when_they_have_none(client, django_user_model, make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 9})
    django_user_model.objects.create_user("ravi", "ravi@example.com", "pw-Secret-123")
    add_to_bag(client, variant(product, "S"))
    client.post(reverse("accounts:login"), {"username": "ravi", "password": "pw-Secret-123"})
    assert Bag.objects.get().user.username == "ravi"
