"""Stripe Checkout end to end (checkout.providers.StripeProvider), with Stripe's API answered
by the responses in stripe_api/ (Stripe's documented object shapes; `responses` intercepts the
stripe package's HTTP calls) and webhooks signed as Stripe signs them (HMAC-SHA256 of
"<timestamp>.<body>" with the endpoint's secret).

The shopper is sent to Stripe; only a webhook whose signature checks out, or the session read
back from Stripe's API, pays the order, and only when Stripe charged the order's total."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from django.core import mail
from django.test import Client
from django.urls import reverse
from payments import PaymentStatus

from orders.models import Order, OrderStatus
from orders.services import order_cancel
from tests.support.shopping import add_to_bag, checkout_to_review, place_order, priced_product, variant

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "stripe_api"
SESSIONS = "https://api.stripe.com/v1/checkout/sessions"
WEBHOOK_SECRET = "whsec_lookalike_test_secret"
WEBHOOK = "/payments/process/stripe/"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


@pytest.fixture
def stripe_api(settings) -> Iterator[responses.RequestsMock]:
    options = {"api_key": "sk_test_lookalike", "endpoint_secret": WEBHOOK_SECRET}
    settings.PAYMENT_VARIANTS = {"stripe": ("checkout.providers.StripeProvider", options)}
    settings.CHECKOUT_PAYMENT_VARIANT = "stripe"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        yield api


def _session_created(api: responses.RequestsMock) -> None:
    """Stripe creates the Checkout Session: the recorded answer, echoing the request's
    reference (Stripe does)."""

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        sent = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        session = recorded("checkout_session_created")
        session["client_reference_id"] = sent["client_reference_id"][0]
        return 200, {"Request-Id": "req_Lookalike01"}, json.dumps(session)

    api.add_callback(responses.POST, SESSIONS, callback=create, content_type="application/json")


def _placed_and_sent_to_stripe(client: Client, make_product, api: responses.RequestsMock) -> Order:
    product = priced_product(make_product, "600.00", {"M": 2}, name="Stripe Tee")
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    _session_created(api)
    to_stripe = client.get(reverse("checkout:payment", args=[number]))
    assert to_stripe.status_code == 302
    assert to_stripe.url == recorded("checkout_session_created")["url"]
    sent = parse_qs(api.calls[-1].request.body)
    # The order's total in paise, in rupees, for this payment.
    assert sent["line_items[0][price_data][unit_amount]"] == ["69900"]
    assert sent["line_items[0][price_data][currency]"] == ["inr"]
    assert sent["mode"] == ["payment"]
    order = Order.objects.get(number=number)
    assert sent["client_reference_id"] == [order.payments.get().token]
    return order


def _completed_session(order: Order, **changes: Any) -> dict[str, Any]:
    session = recorded("checkout_session_completed")
    session["client_reference_id"] = order.payments.get().token
    session.update(changes)
    return session


def _event(session: dict[str, Any], kind: str = "checkout.session.completed") -> bytes:
    return json.dumps(
        {
            "id": "evt_1Lookalike",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": session},
            "livemode": False,
            "type": kind,
        }
    ).encode()


def _signature(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _deliver(body: bytes, signature: str | None) -> Any:
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return Client().post(WEBHOOK, body, content_type="application/json", **headers)


def test_a_signed_webhook_pays_the_order_once(client, make_product, stripe_api, django_capture_on_commit_callbacks):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order))
    with django_capture_on_commit_callbacks(execute=True):
        answer = _deliver(body, _signature(body))
    assert answer.status_code == 200 and answer.json() == {"status": "OK"}
    order.refresh_from_db()
    payment = order.payments.get()
    assert order.status == OrderStatus.PAID and not order.payment_problem
    assert payment.status == PaymentStatus.CONFIRMED and payment.captured_amount == Decimal("699.00")
    assert payment.attrs.session["payment_intent"] == "pi_3Lookalike0000001"
    assert len(mail.outbox) == 1
    # Stripe delivers again: nothing changes, no second e-mail.
    with django_capture_on_commit_callbacks(execute=True):
        assert _deliver(body, _signature(body)).status_code == 200
    assert len(mail.outbox) == 1
    assert client.get(reverse("checkout:thanks", args=[order.number])).context["order"].status == OrderStatus.PAID


@pytest.mark.parametrize(
    "signature",
    [
        None,  # unsigned
        "",
        "t=1,v1=00",
        "nonsense",
        "__wrong_secret__",
        "__an_hour_old__",
    ],
)
def test_a_webhook_whose_signature_does_not_check_out_pays_nothing(client, make_product, stripe_api, signature):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order))
    if signature == "__wrong_secret__":
        signature = _signature(body, secret="whsec_someone_else")
    elif signature == "__an_hour_old__":
        signature = _signature(body, at=int(time.time()) - 3600)
    answer = _deliver(body, signature)
    assert answer.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.payments.get().status == PaymentStatus.WAITING


def test_a_signed_webhook_for_another_session_pays_nothing(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order, id="cs_test_someone_elses_session"))
    assert _deliver(body, _signature(body)).status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_stripe_charging_less_than_the_total_flags_the_order(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order, amount_total=100, amount_subtotal=100))
    assert _deliver(body, _signature(body)).status_code == 200
    order.refresh_from_db()
    payment = order.payments.get()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.paid_at is None
    assert payment.captured_amount == Decimal("1.00")
    assert order.payment_problem == (
        f"Payment {payment.pk} (stripe) captured 1.00 INR, the order's total is 699.00 INR."
    )


def test_stripe_charging_another_currency_flags_the_order(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order, currency="usd"))
    assert _deliver(body, _signature(body)).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert "Stripe charged 69900 USD (minor units), not INR." in order.payment_problem


def test_an_expired_session_rejects_the_payment(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    session = _completed_session(order, status="expired", payment_status="unpaid", payment_intent=None)
    body = _event(session, "checkout.session.expired")
    assert _deliver(body, _signature(body)).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.payments.get().status == PaymentStatus.REJECTED


def test_back_from_stripe_the_session_is_read_back(client, make_product, stripe_api):
    """The shopper lands on the success URL before the webhook: the thanks page asks Stripe.
    Unpaid there (whatever the URL says): still waiting; paid: the order is paid."""
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    session_id = order.payments.get().transaction_id
    unpaid = recorded("checkout_session_created")
    stripe_api.get(f"{SESSIONS}/{session_id}", json=unpaid)
    page = client.get(reverse("checkout:thanks", args=[order.number]) + "?payment_status=paid&status=confirmed")
    assert "We are waiting for your payment" in page.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT

    stripe_api.replace(responses.GET, f"{SESSIONS}/{session_id}", json=_completed_session(order))
    page = client.get(reverse("checkout:thanks", args=[order.number]))
    assert "Thank you for your order!" in page.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.payments.get().captured_amount == Decimal("699.00")


def test_the_per_payment_callback_url_needs_a_signature_too(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    url = f"/payments/process/{order.payments.get().token}/"
    assert Client().get(url).status_code == 400
    body = _event(_completed_session(order))
    assert Client().post(url, body, content_type="application/json").status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_stripe_refusing_the_session_shows_the_failure_page(client, make_product, stripe_api):
    product = priced_product(make_product, "600.00", {"M": 2})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    stripe_api.post(SESSIONS, status=400, json=recorded("error_invalid_request"))
    answer = client.get(reverse("checkout:payment", args=[number]), follow=True)
    assert answer.status_code == 200
    assert "The payment service did not answer. Nothing was charged" in answer.content.decode()
    assert Order.objects.get(number=number).status == OrderStatus.PENDING_PAYMENT


def test_cancelling_a_paid_stripe_order_refunds_it_through_stripe(client, make_product, stripe_api):
    order = _placed_and_sent_to_stripe(client, make_product, stripe_api)
    body = _event(_completed_session(order))
    _deliver(body, _signature(body))
    stripe_api.post("https://api.stripe.com/v1/refunds", json=recorded("refund_created"))
    order_cancel(Order.objects.get(pk=order.pk))
    sent = parse_qs(stripe_api.calls[-1].request.body)
    assert sent["payment_intent"] == ["pi_3Lookalike0000001"] and sent["amount"] == ["69900"]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.payments.get().status == PaymentStatus.REFUNDED
