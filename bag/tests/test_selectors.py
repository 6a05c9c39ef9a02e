"""Reads of the bag (bag.selectors): lines at today's prices, flagged when they cannot be bought
as they are (gone, sold out, fewer left), price changes, totals and the header badge's count."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from bag.models import Bag, BagLine
from bag.selectors import bag_item_count, bag_summary
from shop.models import Product
from tests.support.shopping import add_to_bag, priced_product, variant

pytestmark = pytest.mark.django_db


def test_inactive_or_sold_out_lines_are_flagged_not_dropped(client, make_product) -> None:
    a = priced_product(make_product, "700.00", {"M": 3}, name="Goes Inactive")
    b = priced_product(make_product, "500.00", {"M": 3}, name="Sells Out")
    add_to_bag(client, variant(a, "M"))
    add_to_bag(client, variant(b, "M"), 2)
    Product.objects.filter(pk=a.pk).update(is_active=False)
    b.variants.update(stock=1)
    page = client.get(reverse("bag:detail"))
    html = page.content.decode()
    assert "No longer available" in html and "Only 1 left in this size" in html
    assert len(page.context["bag"].lines) == 2
    assert "cannot be bought as they are" in html
    assert client.get(reverse("checkout:details")).status_code == 200  # but review will refuse


def test_price_change_shows_in_the_bag(client, make_product) -> None:
    product = priced_product(make_product, "700.00", {"M": 3})
    add_to_bag(client, variant(product, "M"))
    Product.objects.filter(pk=product.pk).update(price=Decimal("800.00"))
    html = client.get(reverse("bag:detail")).content.decode()
    assert "₹800.00 each" in html and "(was ₹700.00)" in html


def test_summary_flags_totals_and_price_changes(make_product) -> None:
    ok = priced_product(make_product, "100.00", {"M": 5}, name="Fine")
    short = priced_product(make_product, "200.00", {"M": 1}, name="Short")
    gone = priced_product(make_product, "300.00", {"M": 0}, name="Gone")
    bag = Bag.objects.create()
    BagLine.objects.create(bag=bag, variant=variant(ok, "M"), quantity=2, price_when_added=Decimal("90.00"))
    BagLine.objects.create(bag=bag, variant=variant(short, "M"), quantity=3, price_when_added=Decimal("200.00"))
    BagLine.objects.create(bag=bag, variant=variant(gone, "M"), quantity=1)

    summary = bag_summary(bag)

    assert [(line.product.name, line.problem) for line in summary.lines] == [
        ("Fine", ""),
        ("Short", "Only 1 left in this size"),
        ("Gone", "Sold out in this size"),
    ]
    assert summary.count == 6 and summary.has_problems and not summary.is_empty
    assert summary.subtotal == Decimal("200.00")  # the buyable line only, at today's price
    assert [(line.product.name, line.price_was) for line in summary.price_changes] == [("Fine", Decimal("90.00"))]
    assert [v.size for v in summary.lines[0].sizes] == ["M"]
    assert bag_summary(None).is_empty and bag_summary(None).subtotal == 0


def test_item_count_of_a_session_bag_or_a_customer(make_product, django_user_model) -> None:
    product = priced_product(make_product, "100.00", {"S": 9, "M": 9})
    anonymous = Bag.objects.create()
    BagLine.objects.create(bag=anonymous, variant=variant(product, "S"), quantity=2)
    BagLine.objects.create(bag=anonymous, variant=variant(product, "M"), quantity=3)
    user = django_user_model.objects.create_user("asha", "asha@example.com", "x")
    mine = Bag.objects.create(user=user)
    BagLine.objects.create(bag=mine, variant=variant(product, "M"), quantity=4)

    assert bag_item_count(anonymous.pk) == 5
    assert bag_item_count(user_id=user.pk) == 4
    assert bag_item_count(mine.pk) == 0  # a customer's bag is never read through a session id
    assert bag_item_count() == 0
