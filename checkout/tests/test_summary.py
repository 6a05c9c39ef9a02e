"""The order summary beside every checkout step (checkout.selectors, templates/checkout/
_summary.html): the lines with thumbnails, sizes and quantities, the delivery and the total,
as checkout_quote prices the bag (steps 1–3) and as the order was placed (the payment step)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from checkout.selectors import checkout_summary_from_order, checkout_summary_from_quote
from checkout.services import checkout_quote
from orders.models import Order
from tests.support.shopping import ADDRESS, add_to_bag, checkout_to_review, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


def _summary_text(html: str) -> str:
    match = re.search(r'<details class="checkout-summary".*?</details>', html, re.S)
    assert match, "no order summary on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


def _shopper_with_two_lines(client, make_product):
    tee = priced_product(make_product, "700.00", {"M": 3}, name="Summary Tee")
    cap = priced_product(make_product, "150.00", {"One size": 4}, name="Summary Cap")
    add_to_bag(client, variant(tee, "M"), 2)
    add_to_bag(client, variant(cap, "One size"), 1)
    return tee, cap


def test_every_step_shows_the_lines_delivery_and_total(client, make_product) -> None:
    tee, _cap = _shopper_with_two_lines(client, make_product)
    page = client.get(reverse("checkout:details")).content.decode()
    details = _summary_text(page)
    assert "Order summary (3 items)" in details
    assert "Summary Tee Size M · Qty 2 ₹1,400.00" in details
    assert "Summary Cap Size One size · Qty 1 ₹150.00" in details
    assert "Subtotal ₹1,550.00 Delivery Chosen at the next step Total ₹1,550.00" in details
    assert tee.card_image_url and f'src="{tee.card_image_url}"' in page  # the line's thumbnail

    client.post(reverse("checkout:details"), ADDRESS)
    delivery = _summary_text(client.get(reverse("checkout:shipping")).content.decode())
    assert "Total ₹1,550.00" in delivery  # nothing chosen yet

    review = checkout_to_review(client, shipping="express")
    text = _summary_text(review.content.decode())
    quote = review.context["quote"]
    assert quote.shipping.name == "Express delivery" and quote.total == Decimal("1550.00") + quote.shipping_cost
    assert f"Express delivery ₹{quote.shipping_cost:,.2f} Total ₹{quote.total:,.2f}" in text
    # The page's summary is the quote's own figures (one place computes them).
    assert review.context["summary"] == checkout_summary_from_quote(quote)

    placed = place_order(client, review)
    order = Order.objects.get()
    payment = client.get(placed.url)
    text = _summary_text(payment.content.decode())
    assert "Order summary (3 items)" in text and "Summary Tee Size M · Qty 2 ₹1,400.00" in text
    assert f"Total ₹{order.total:,.2f}" in text
    summary = payment.context["summary"]
    assert summary == checkout_summary_from_order(order)
    assert (summary.subtotal, summary.shipping_cost, summary.total) == (
        order.subtotal,
        order.shipping_cost,
        order.total,
    )


def test_free_delivery_and_a_problem_line_show_in_the_summary(client, make_product) -> None:
    tee = priced_product(make_product, "700.00", {"M": 3}, name="Summary Tee")
    add_to_bag(client, variant(tee, "M"), 3)  # ₹2,100.00: standard delivery is free from ₹1,999.00
    client.post(reverse("checkout:details"), ADDRESS)
    client.post(reverse("checkout:shipping"), {"method": "standard"})
    text = _summary_text(client.get(reverse("checkout:review")).content.decode())
    assert "Subtotal ₹2,100.00 Standard delivery Free Total ₹2,100.00" in text
    # Stock drops under the bag's quantity: the summary says so on the line.
    variant(tee, "M").__class__.objects.filter(pk=variant(tee, "M").pk).update(stock=1)
    text = _summary_text(client.get(reverse("checkout:review")).content.decode())
    assert "Only 1 left in this size" in text


def test_the_summary_of_an_empty_quote_is_empty() -> None:
    summary = checkout_summary_from_quote(checkout_quote(None, {}))
    assert summary.lines == [] and summary.total == Decimal("0.00") and summary.item_count == 0
    assert not summary.shipping_chosen
