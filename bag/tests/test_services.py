"""Writes of the bag (bag.services): find or make the request's bag, add, change, remove, merge,
clear, and prune abandoned anonymous bags."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.utils import timezone

from bag.models import Bag, BagLine
from bag.services import (
    SESSION_KEY,
    bag_add,
    bag_clear,
    bag_for_request,
    bag_line_remove,
    bag_line_update,
    bag_merge,
    bags_prune_abandoned,
)
from core.errors import Conflict, InvalidInput, NotFound
from shop.models import Product
from tests.support.shopping import add_to_bag, priced_product, variant

pytestmark = pytest.mark.django_db


def _request(user=None):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user or AnonymousUser()
    return request


def test_abandoned_anonymous_bags_are_pruned(client, django_user_model, make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 9})
    add_to_bag(client, variant(product, "S"))
    customer_bag = Bag.objects.create(user=django_user_model.objects.create_user("c", "c@example.com", "x"))
    Bag.objects.update(updated=timezone.now() - timedelta(days=31))
    assert bags_prune_abandoned() == 1
    assert not BagLine.objects.exists()
    assert list(Bag.objects.all()) == [customer_bag]


def test_bag_for_request_makes_one_only_when_asked(django_user_model) -> None:
    request = _request()
    assert bag_for_request(request) is None and not Bag.objects.exists()
    bag = bag_for_request(request, create=True)
    assert request.session[SESSION_KEY] == bag.pk
    assert bag_for_request(request) == bag
    user = django_user_model.objects.create_user("asha", "asha@example.com", "x")
    customer = _request(user)
    own = bag_for_request(customer, create=True)
    assert own.user == user and own != bag
    assert bag_for_request(customer, create=True) == own  # one bag per customer


def test_add_counts_up_and_refuses_what_cannot_go_in(make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 12, "M": 2, "L": 0}, name="Tee")
    bag = Bag.objects.create()
    line = bag_add(bag, variant(product, "S").pk, 2)
    assert bag_add(bag, str(variant(product, "S").pk)).pk == line.pk
    line.refresh_from_db()
    assert line.quantity == 3 and line.price_when_added == Decimal("700.00")
    with pytest.raises(Conflict, match=r"Only 10 of Tee in size S can go in your bag\."):
        bag_add(bag, variant(product, "S").pk, 8)  # the per-line maximum (BAG_MAX_QUANTITY_PER_LINE)
    with pytest.raises(Conflict, match=r"Only 2 of Tee in size M can go in your bag\."):
        bag_add(bag, variant(product, "M").pk, 3)  # the stock
    with pytest.raises(Conflict, match=r"Tee in size L is sold out\."):
        bag_add(bag, variant(product, "L").pk)
    with pytest.raises(InvalidInput, match=r"Choose at least one\."):
        bag_add(bag, variant(product, "M").pk, 0)
    with pytest.raises(NotFound):
        bag_add(bag, "not-a-number")
    Product.objects.filter(pk=product.pk).update(is_active=False)
    with pytest.raises(Conflict, match=r"Tee is no longer available\."):
        bag_add(bag, variant(product, "M").pk)
    assert list(bag.lines.values_list("quantity", flat=True)) == [3]


def test_line_update_changes_size_merging_a_size_already_there(make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 9, "M": 9})
    other = priced_product(make_product, "100.00", {"M": 9})
    bag = Bag.objects.create()
    small = bag_add(bag, variant(product, "S").pk, 2)
    bag_add(bag, variant(product, "M").pk, 3)
    merged = bag_line_update(bag, small.pk, quantity=2, variant_id=variant(product, "M").pk)
    assert merged is not None and merged.quantity == 5
    assert list(bag.lines.values_list("variant__size", "quantity")) == [("M", 5)]
    with pytest.raises(InvalidInput, match="same product"):
        bag_line_update(bag, merged.pk, quantity=1, variant_id=variant(other, "M").pk)
    with pytest.raises(InvalidInput, match="between 0 and 10"):
        bag_line_update(bag, merged.pk, quantity=11)
    assert bag_line_update(bag, merged.pk, quantity=0) is None
    assert not bag.lines.exists()


def test_remove_and_clear_touch_only_this_bag(make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 9, "M": 9})
    bag, other = Bag.objects.create(), Bag.objects.create()
    first = bag_add(bag, variant(product, "S").pk)
    bag_add(bag, variant(product, "M").pk)
    theirs = bag_add(other, variant(product, "S").pk)
    with pytest.raises(NotFound, match="not in your bag"):
        bag_line_remove(bag, theirs.pk)
    bag_line_remove(bag, first.pk)
    assert list(bag.lines.values_list("variant__size", flat=True)) == ["M"]
    bag_clear(bag)
    assert not bag.lines.exists() and other.lines.count() == 1


def test_merge_adds_up_sizes_up_to_the_maximum_and_deletes_the_source(make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 10, "M": 9})
    source, target = Bag.objects.create(), Bag.objects.create()
    bag_add(source, variant(product, "S").pk, 6)
    bag_add(source, variant(product, "M").pk, 1)
    bag_add(target, variant(product, "S").pk, 7)
    bag_merge(target, target)  # the same bag: nothing happens
    assert target.lines.count() == 1
    bag_merge(source, target)
    assert sorted(target.lines.values_list("variant__size", "quantity")) == [("M", 1), ("S", 10)]
    assert not Bag.objects.filter(pk=source.pk).exists()
