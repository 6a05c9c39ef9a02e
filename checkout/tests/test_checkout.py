"""Checkout end to end with the test client: details → delivery → review → dummy payment →
thanks; shipping rules; a double-submitted checkout; a failed payment; a price change between
bag and checkout; CSRF on every POST."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from checkout.models import Payment
from orders.models import Order, OrderStatus
from orders.services import orders_release_expired
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


def test_free_shipping_over_the_threshold_and_express(client, make_product, settings) -> None:
    settings.CHECKOUT_FREE_SHIPPING_OVER = "1000"
    product = priced_product(make_product, "1200.00", {"M": 3})
    add_to_bag(client, variant(product, "M"))
    quote = checkout_to_review(client).context["quote"]
    assert quote.shipping_cost == 0 and quote.total == Decimal("1200.00")
    quote = checkout_to_review(client, shipping="express").context["quote"]
    assert quote.shipping_cost == Decimal("249.00")


def test_double_submitted_checkout_makes_one_order(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5})
    add_to_bag(client, variant(product, "M"), 2)
    review = checkout_to_review(client)
    first = place_order(client, review)
    second = place_order(client, review)  # the same form again: double click, refresh, retry
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert Order.objects.count() == 1
    assert variant(product, "M").stock == 3  # reserved once
    client.get(first.url)
    client.get(first.url)
    assert Payment.objects.count() == 1


def test_payment_failure_leaves_no_paid_order_and_the_stock_is_released(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2})
    add_to_bag(client, variant(product, "M"), 2)
    order_number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    assert variant(product, "M").stock == 0
    failed = pay(client, order_number, status="rejected")
    assert failed.url == reverse("checkout:payment_failed", args=[order_number])
    assert "Try paying again" in client.get(failed.url).content.decode()
    order = Order.objects.get(number=order_number)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert not Order.objects.filter(status=OrderStatus.PAID).exists()
    # Not yet timed out: nothing released.
    assert orders_release_expired() == []
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=1))
    assert orders_release_expired() == [order_number]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.stock_released
    assert variant(product, "M").stock == 2
    assert orders_release_expired() == []  # once only
    assert "went back on sale" in client.get(failed.url).content.decode()


def test_retry_after_a_failed_payment_pays_the_same_order(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number, status="rejected")
    assert pay(client, number).url == reverse("checkout:thanks", args=[number])
    assert Order.objects.get().status == OrderStatus.PAID
    assert Payment.objects.count() == 2


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


def test_every_post_needs_the_csrf_token(make_product, django_user_model) -> None:
    product = priced_product(make_product, "500.00", {"M": 5})
    v = variant(product, "M")
    client = Client(enforce_csrf_checks=True)
    posts = [
        (reverse("bag:add"), {"variant": v.pk}),
        (reverse("bag:line_update", args=[1]), {"quantity": 2}),
        (reverse("bag:line_remove", args=[1]), {}),
        (reverse("checkout:details"), ADDRESS),
        (reverse("checkout:shipping"), {"method": "standard"}),
        (reverse("checkout:review"), {"idempotency_key": "x"}),
        (reverse("checkout:payment", args=["LA-1"]), {"status": "confirmed"}),
        (reverse("accounts:login"), {"username": "a", "password": "b"}),
        (reverse("accounts:logout"), {}),
        (reverse("accounts:signup"), {"username": "a"}),
        (reverse("accounts:password_reset"), {"email": "a@example.com"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not Order.objects.exists()


def test_cancelling_a_paid_order_refunds_its_payment_and_returns_stock(client, make_product) -> None:
    from payments import PaymentStatus

    from orders.services import order_cancel, order_mark_delivered, order_mark_shipped, order_refund

    product = priced_product(make_product, "500.00", {"M": 3})
    add_to_bag(client, variant(product, "M"), 2)
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number)
    order = Order.objects.get(number=number)
    assert order.status == OrderStatus.PAID and variant(product, "M").stock == 1
    order_cancel(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and variant(product, "M").stock == 3
    assert order.payments.get().status == PaymentStatus.REFUNDED
    # A delivered order refunded: money back, stock unchanged until the goods come back.
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number)
    order = Order.objects.get(number=number)
    order_mark_delivered(order_mark_shipped(order))
    order_refund(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and variant(product, "M").stock == 2
    assert order.payments.get().status == PaymentStatus.REFUNDED


def test_a_payment_arriving_after_the_release_is_refunded(client, make_product) -> None:
    """A provider confirming late (e.g. a Stripe webhook after the timeout): the order stays
    cancelled, its stock stays released, and the payment is refunded."""
    from payments import PaymentStatus

    from checkout.services import payment_for_order

    product = priced_product(make_product, "500.00", {"M": 1})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    order = Order.objects.get(number=number)
    payment = payment_for_order(order)
    Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(hours=1))
    assert orders_release_expired() == [number]
    payment.change_status(PaymentStatus.CONFIRMED)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and variant(product, "M").stock == 1
    assert payment.status == PaymentStatus.REFUNDED
    # The payment page no longer takes money for it.
    response = client.get(reverse("checkout:payment", args=[number]), follow=True)
    assert "went back on sale" in response.content.decode()
