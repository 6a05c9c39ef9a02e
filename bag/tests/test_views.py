"""The bag pages (bag.views): the empty bag, add (with size) from the product page and the
cards, change quantity and size, remove, and the refusals shown as messages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bag.models import Bag, BagLine
from tests.support.shopping import add_to_bag, bag_lines, priced_product, variant

pytestmark = pytest.mark.django_db


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


def test_next_goes_back_to_the_page_only_on_this_site(client, make_product) -> None:
    product = priced_product(make_product, "700.00", {"M": 3})
    inside = client.post(reverse("bag:add"), {"variant": variant(product, "M").pk, "next": "/?page=2"})
    assert inside.url == "/?page=2"
    outside = client.post(reverse("bag:add"), {"variant": variant(product, "M").pk, "next": "https://evil.example/"})
    assert outside.url == reverse("bag:detail")


def test_changing_a_line_of_another_bag_is_refused(client, make_product) -> None:
    product = priced_product(make_product, "700.00", {"M": 3})
    other = Bag.objects.create()
    line = BagLine.objects.create(bag=other, variant=variant(product, "M"), quantity=1)
    add_to_bag(client, variant(product, "M"))  # this shopper has a bag of their own
    response = client.post(reverse("bag:line_remove", args=[line.pk]), follow=True)
    assert "That item is not in your bag any more." in response.content.decode()
    assert BagLine.objects.filter(pk=line.pk).exists()
