"""The bag: add (with size) from the product page and cards, change quantity and size, remove,
flags for lines that cannot be bought, the header badge, and the merge on login."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from bag.models import Bag, BagLine
from shop.models import Product
from tests.support.shopping import add_to_bag, priced_product, variant

pytestmark = pytest.mark.django_db


def bag_lines(client) -> list[tuple[str, str, int]]:
    summary = client.get(reverse("bag:detail")).context["bag"]
    return [(line.product.name, line.variant.size, line.quantity) for line in summary.lines]


def test_empty_bag_is_friendly(client) -> None:
    page = client.get(reverse("bag:detail"))
    assert "Your bag is empty" in page.content.decode()
    assert not Bag.objects.exists()  # looking does not make a bag


def test_add_update_and_remove(client, make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 5, "M": 1}, name="Blue Tee")
    response = add_to_bag(client, variant(product, "S"))
    assert response.status_code == 302
    add_to_bag(client, variant(product, "S"), 2)
    assert bag_lines(client) == [("Blue Tee", "S", 3)]
    page = client.get(reverse("bag:detail")).content.decode()
    assert "₹2,100.00" in page  # line and order totals
    assert 'class="bag-badge" data-count="3"' in page

    line = BagLine.objects.get()
    client.post(reverse("bag:line_update", args=[line.pk]), {"quantity": 1, "variant": variant(product, "M").pk})
    assert bag_lines(client) == [("Blue Tee", "M", 1)]
    # More than the stock of the size: refused with a message, nothing changes.
    response = client.post(reverse("bag:line_update", args=[line.pk]), {"quantity": 4}, follow=True)
    assert "Only 1 of Blue Tee in size M left." in response.content.decode()
    assert bag_lines(client) == [("Blue Tee", "M", 1)]

    client.post(reverse("bag:line_remove", args=[line.pk]))
    assert bag_lines(client) == []


def test_sold_out_size_and_missing_size_are_refused(client, make_product) -> None:
    product = priced_product(make_product, "700.00", {"S": 0, "M": 2})
    response = add_to_bag(client, variant(product, "S"))
    assert response.status_code == 302
    assert "sold out" in client.get(reverse("bag:detail")).content.decode()
    response = client.post(reverse("bag:add"), {"variant": ""}, follow=True)
    assert "Please choose a size." in response.content.decode()
    assert bag_lines(client) == []


def test_card_offers_add_to_bag_with_a_compact_size_choice(client, make_product) -> None:
    many = priced_product(make_product, "700.00", {"S": 1, "M": 0}, name="Many Sizes")
    one = priced_product(make_product, "300.00", {"One size": 3}, name="One Size Cap")
    page = client.get(reverse("shop:catalogue")).content.decode()
    assert f'aria-label="Size of {many.name}"' in page
    assert f'name="variant" value="{variant(one, "One size").pk}"' in page
    client.post(reverse("bag:add"), {"variant": variant(one, "One size").pk, "next": "/?page=1"})
    assert bag_lines(client) == [("One Size Cap", "One size", 1)]


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


def test_abandoned_anonymous_bags_are_pruned(client, django_user_model, make_product) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from bag.services import bags_prune_abandoned

    product = priced_product(make_product, "700.00", {"S": 9})
    add_to_bag(client, variant(product, "S"))
    customer_bag = Bag.objects.create(user=django_user_model.objects.create_user("c", "c@example.com", "x"))
    Bag.objects.update(updated=timezone.now() - timedelta(days=31))
    assert bags_prune_abandoned() == 1
    assert not BagLine.objects.exists()
    assert list(Bag.objects.all()) == [customer_bag]
