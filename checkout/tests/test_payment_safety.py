"""No paid order without a payment (issue 19, section 1), with the dummy provider of the test
settings: its callback URLs change nothing, odd form fields neither 500 nor pay, the static
callback answers 404 instead of 500, a payment whose captured amount is not the order's total
flags the order instead of paying it, and a shop without a configured provider refuses to take
payments instead of failing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from payments import PaymentStatus

from checkout.models import Payment
from checkout.services import payment_for_order
from orders.models import Order, OrderStatus
from tests.support.shopping import add_to_bag, checkout_to_review, pay, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


def _placed_order(client: Client, make_product, price: str = "600.00") -> Order:
    product = priced_product(make_product, price, {"M": 2})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    return Order.objects.get(number=number)


def test_a_cookieless_callback_with_a_confirmed_query_pays_nothing(client, make_product) -> None:
    order = _placed_order(client, make_product)
    client.get(reverse("checkout:payment", args=[order.number]))  # the payment exists, its form shown
    payment = order.payments.get()
    stranger = Client()
    for method in (stranger.get, stranger.post):
        answer = method(f"/payments/process/{payment.token}/?verification_result=confirmed")
        assert answer.status_code == 302 and answer.url == reverse("checkout:payment_failed", args=[order.number])
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.INPUT and order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize("gateway_response", ["failure", "payment-error", "3ds-redirect"])
def test_odd_fields_on_the_pay_form_neither_fail_nor_change_the_outcome(
    client, make_product, gateway_response: str
) -> None:
    order = _placed_order(client, make_product)
    url = reverse("checkout:payment", args=[order.number])
    client.get(url)
    answer = client.post(
        url,
        {
            "status": "confirmed",
            "fraud_status": "accept",
            "gateway_response": gateway_response,
            "verification_result": "rejected",
        },
    )
    assert answer.status_code == 302 and answer.url == reverse("checkout:thanks", args=[order.number])
    order.refresh_from_db()
    payment = order.payments.get()
    assert order.status == OrderStatus.PAID and not order.payment_problem
    assert payment.captured_amount == order.total == Decimal("699.00")  # 600 + the flat rate
    assert payment.fraud_status == "unknown"  # not the browser's to set


@pytest.mark.parametrize("status", ["preauth", "refunded", "waiting", "", "x" * 5000, "confirmed\x00"])
def test_statuses_the_form_does_not_offer_are_refused_with_the_form(client, make_product, status: str) -> None:
    order = _placed_order(client, make_product)
    url = reverse("checkout:payment", args=[order.number])
    answer = client.post(url, {"status": status})
    refusal = "This field is required" if status == "" else "Select a valid choice"
    assert answer.status_code == 200 and refusal in answer.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.payments.get().status == PaymentStatus.INPUT


def test_the_static_callback_of_the_dummy_provider_answers_404(client) -> None:
    for method in (client.get, client.post):
        answer = method("/payments/process/dummy/")
        assert answer.status_code == 404
        assert answer.json()["error"] == "The dummy payment provider has no webhook."
    assert client.post("/payments/process/paypal/").status_code == 400  # not configured


def test_a_payment_that_captured_less_than_the_total_flags_the_order(client, make_product) -> None:
    order = _placed_order(client, make_product)
    payment = payment_for_order(order)
    payment.captured_amount = Decimal("0.00")
    payment.save()
    payment.change_status(PaymentStatus.CONFIRMED)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.paid_at is None
    assert order.payment_problem == (
        f"Payment {payment.pk} (dummy) captured 0.00 INR, the order's total is 699.00 INR."
    )
    # The thanks page does not thank for it.
    thanks = client.get(reverse("checkout:thanks", args=[order.number])).content.decode()
    assert "We are waiting for your payment" in thanks


def test_a_payment_in_another_currency_flags_the_order(client, make_product) -> None:
    order = _placed_order(client, make_product)
    payment = payment_for_order(order)
    Payment.objects.filter(pk=payment.pk).update(currency="USD")
    payment.refresh_from_db()
    payment.captured_amount = order.total
    payment.save()
    payment.change_status(PaymentStatus.CONFIRMED)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert "captured 699.00 USD, the order's total is 699.00 INR" in order.payment_problem


def test_flagged_orders_are_listed_and_filtered_in_the_admin(admin_client, client, make_product) -> None:
    flagged = _placed_order(client, make_product)
    Order.objects.filter(pk=flagged.pk).update(payment_problem="Payment 1 (stripe) captured 1.00 INR, …")
    page = admin_client.get(reverse("admin:orders_order_changelist") + "?payment_problem=yes")
    html = page.content.decode()
    assert page.status_code == 200 and flagged.number in html
    assert "Payment does not match the order" in html  # the filter
    assert 'alt="False"' in html  # the "Payment OK" column
    assert (
        flagged.number
        not in admin_client.get(reverse("admin:orders_order_changelist") + "?payment_problem=no").content.decode()
    )
    detail = admin_client.get(reverse("admin:orders_order_change", args=[flagged.pk])).content.decode()
    assert "captured 1.00 INR" in detail


def test_without_a_configured_provider_the_shop_refuses_to_take_payment(client, make_product, settings) -> None:
    order = _placed_order(client, make_product)
    settings.PAYMENT_VARIANTS = {}  # production without Stripe: the dummy provider is not there
    answer = client.get(reverse("checkout:payment", args=[order.number]), follow=True)
    assert answer.status_code == 200
    assert "We cannot take payments right now" in answer.content.decode()
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_the_demo_shop_says_so_on_every_page(client, settings) -> None:
    assert "Demo shop:" not in client.get(reverse("shop:catalogue")).content.decode()
    settings.DEMO_SHOP = True
    for url in (reverse("shop:catalogue"), reverse("bag:detail"), reverse("accounts:login")):
        html = client.get(url).content.decode()
        assert '<p class="demo-banner" role="note"><strong>Demo shop:</strong> no real payments.' in html, url


def test_paying_with_the_dummy_form_still_works(client, make_product) -> None:
    order = _placed_order(client, make_product)
    assert pay(client, order.number).url == reverse("checkout:thanks", args=[order.number])
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
