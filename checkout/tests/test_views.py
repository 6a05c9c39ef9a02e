"""Checkout's pages (checkout.views) with the test client: details → delivery → review →
dummy payment → thanks; the review showing a price change and refusing what sold out; the
empty bag; another session's order pages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderStatus
from shop.models import Product
from tests.support.shopping import ADDRESS, add_to_bag, checkout_to_review, pay, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


def test_guest_checkout_pays_and_gets_a_confirmation(client, make_product, django_capture_on_commit_callbacks) -> None:
    product = priced_product(make_product, "700.00", {"M": 3}, name="Guest Tee")
    add_to_bag(client, variant(product, "M"), 2)
    review = checkout_to_review(client)
    html = review.content.decode()
    assert "₹1,400.00" in html and "₹99.00" in html and "₹1,499.00" in html  # subtotal, flat rate, total
    with django_capture_on_commit_callbacks(execute=True):
        placed = place_order(client, review)
    order = Order.objects.get()
    assert placed.status_code == 302 and placed.url == reverse("checkout:payment", args=[order.number])
    assert order.status == OrderStatus.PENDING_PAYMENT and order.user is None
    assert variant(product, "M").stock == 1  # reserved at placement
    assert client.get(reverse("bag:detail")).context["bag"].is_empty
    with django_capture_on_commit_callbacks(execute=True):
        paid = pay(client, order.number)
    assert paid.status_code == 302 and paid.url == reverse("checkout:thanks", args=[order.number])
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.paid_at
    thanks = client.get(paid.url).content.decode()
    assert "Thank you for your order!" in thanks and order.number in thanks
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [ADDRESS["email"]] and order.number in mail.outbox[0].subject
    assert "Guest Tee (size M)" in mail.outbox[0].body
    line = order.lines.get()
    assert (line.product_name, line.size, line.unit_price, line.quantity) == ("Guest Tee", "M", Decimal("700.00"), 2)


def test_price_change_between_bag_and_checkout_is_shown_before_paying(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5}, name="Repriced Tee")
    add_to_bag(client, variant(product, "M"))
    Product.objects.filter(pk=product.pk).update(price=Decimal("650.00"))
    review = checkout_to_review(client)
    html = review.content.decode()
    assert "Prices have changed" in html and "Repriced Tee: now ₹650.00 (was ₹500.00)" in html
    assert review.context["quote"].total == Decimal("749.00")
    # It changes again between review and the click: refused, the new total shown.
    Product.objects.filter(pk=product.pk).update(price=Decimal("700.00"))
    refused = place_order(client, review)
    assert refused.status_code == 409
    assert "the total is now ₹799.00" in refused.content.decode()
    assert not Order.objects.exists()
    placed = place_order(client, refused)
    assert placed.status_code == 302
    assert Order.objects.get().total == Decimal("799.00")


def test_review_refuses_what_sold_out_meanwhile(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2}, name="Rare Tee")
    add_to_bag(client, variant(product, "M"), 2)
    review = checkout_to_review(client)
    product.variants.update(stock=1)
    refused = place_order(client, review)
    assert refused.status_code == 409
    assert "Rare Tee (size M): only 1 left, you asked for 2" in refused.content.decode()
    assert not Order.objects.exists()


def test_empty_bag_cannot_check_out(client) -> None:
    assert client.get(reverse("checkout:details")).url == reverse("bag:detail")
    assert client.get(reverse("checkout:review")).url == reverse("bag:detail")


def test_an_order_page_of_another_session_is_404(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    stranger = Client()
    for name in ("checkout:payment", "checkout:thanks", "checkout:payment_failed"):
        assert stranger.get(reverse(name, args=[number])).status_code == 404


@pytest.mark.parametrize("debug", [True, False])
def test_the_dummy_payment_form_preselects_confirmed_in_development(client, make_product, settings, debug) -> None:
    """In development (DEBUG) "Confirmed" is the chosen option, so "Pay" leads straight to the
    confirmation page; elsewhere (a demo shop) nothing is chosen for the shopper."""
    settings.DEBUG = debug
    product = priced_product(make_product, "700.00", {"M": 3})
    add_to_bag(client, variant(product, "M"))
    placed = place_order(client, checkout_to_review(client))
    html = client.get(placed.url).content.decode()
    selected = re.search(r'<option value="(\w+)"\s+selected>', html)
    assert (selected.group(1) if selected else None) == ("confirmed" if debug else None)
