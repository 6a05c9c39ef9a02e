"""Our django-payments providers. A payment becomes confirmed only from what the provider
itself verified, never from a value the shopper's browser sends:

- ``StripeProvider``: Stripe Checkout. A payment is confirmed from a webhook event whose
  signature checks out against STRIPE_WEBHOOK_SECRET, or from the Checkout Session read back
  from Stripe's API; the captured amount is what Stripe says it charged (``amount_total`` in
  the order's currency), so checkout.receivers can hold an order whose payment does not match.
- ``DummyProvider``: development, tests and demo shops only (config/settings/payments.py). A
  form with one choice, confirmed or rejected; a confirmed dummy payment captures the total.
  Its callback URLs change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

import stripe
from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from payments import PaymentError, PaymentStatus, RedirectNeeded
from payments.core import BasicProvider
from payments.forms import PaymentForm
from payments.stripe import StripeProviderV3
from payments.stripe.providers import stripe_enabled_events, zero_decimal_currency

from checkout.models import Payment

logger = logging.getLogger(__name__)


# --- Dummy: no money moves.


class DummyPaymentForm(PaymentForm):
    status = forms.ChoiceField(
        choices=[
            (PaymentStatus.CONFIRMED, "Confirmed: the payment goes through"),
            (PaymentStatus.REJECTED, "Rejected: see a failed payment"),
        ],
        label="Status",
    )


class DummyProvider(BasicProvider):
    """The shopper picks the outcome. Other fields a client sends are ignored."""

    def get_form(self, payment: Payment, data: Any = None) -> PaymentForm:
        if payment.status == PaymentStatus.WAITING:
            payment.change_status(PaymentStatus.INPUT)
        form = DummyPaymentForm(data=data or None, hidden_inputs=False, provider=self, payment=payment)
        if settings.DEBUG:
            # Development: "Pay" goes straight through to the confirmation page.
            form.fields["status"].initial = PaymentStatus.CONFIRMED
        if not form.is_valid():
            return form
        if form.cleaned_data["status"] == PaymentStatus.CONFIRMED:
            payment.captured_amount = payment.total
            payment.save(update_fields=["captured_amount"])  # change_status saves only the status
            payment.change_status(PaymentStatus.CONFIRMED)
            raise RedirectNeeded(payment.get_success_url())
        payment.change_status(PaymentStatus.REJECTED)
        raise RedirectNeeded(payment.get_failure_url())

    def process_data(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        """The per-payment callback URL: a dummy payment has no callbacks, so it changes
        nothing (whatever the query says) and sends the visitor to the page of the status."""
        if payment.status == PaymentStatus.CONFIRMED:
            return HttpResponseRedirect(payment.get_success_url())
        return HttpResponseRedirect(payment.get_failure_url())

    def get_token_from_request(self, payment: Payment | None, request: HttpRequest) -> NoReturn:
        raise PaymentError("The dummy payment provider has no webhook.", code=404)

    def capture(self, payment: Payment, amount: Decimal | None = None) -> Decimal:
        payment.captured_amount = amount or payment.total
        payment.save(update_fields=["captured_amount"])
        payment.change_status(PaymentStatus.CONFIRMED)
        return payment.captured_amount

    def release(self, payment: Payment) -> None:
        return None

    def refund(self, payment: Payment, amount: Decimal | None = None) -> Decimal:
        return amount or Decimal(str(payment.captured_amount))

    def cancel(self, payment: Payment) -> None:
        return None


# --- Stripe Checkout.


def stripe_amount(currency: str, minor_units: int) -> Decimal:
    """Stripe's integer amount (cents, paise; whole units for zero-decimal currencies) as a
    Decimal in the currency."""
    if currency.lower() in zero_decimal_currency:
        return Decimal(minor_units)
    return (Decimal(minor_units) / 100).quantize(Decimal("0.01"))


class StripeProvider(StripeProviderV3):
    """django-payments' Stripe Checkout provider, with every webhook's signature checked (no
    unsigned mode), bad or unsigned callbacks answered 400 instead of an exception, and the
    captured amount taken from Stripe's session instead of assumed to be the payment's total."""

    def __init__(self, api_key: str, endpoint_secret: str = "", **kwargs: Any) -> None:
        kwargs.pop("secure_endpoint", None)  # never off
        super().__init__(
            api_key=api_key, endpoint_secret=endpoint_secret, use_token=True, secure_endpoint=True, **kwargs
        )

    def return_event_payload(self, request: HttpRequest) -> Any:
        """The webhook event, if Stripe signed it; PaymentError(400) otherwise."""
        signature = request.headers.get("Stripe-Signature", "")
        if not signature or not self.endpoint_secret:
            raise PaymentError("The webhook is not signed.", code=400)
        try:
            return stripe.Webhook.construct_event(request.body, signature, self.endpoint_secret).to_dict()
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise PaymentError("The webhook's signature does not match.", code=400) from exc

    def create_session(self, payment: Payment) -> dict[str, Any]:
        # The stripe package's objects are no dicts: keep a plain one (payment.attrs is JSON).
        return super().create_session(payment).to_dict()

    def refund(self, payment: Payment, amount: Decimal | None = None) -> Decimal:
        if payment.status != PaymentStatus.CONFIRMED:
            raise PaymentError("Only confirmed payments can be refunded.")
        to_refund = amount or Decimal(str(payment.captured_amount))
        intent = (payment.attrs.session or {}).get("payment_intent")
        if not intent:
            raise PaymentError("The Stripe session has no payment intent to refund.")
        stripe.api_key = self.api_key
        try:
            refund = stripe.Refund.create(
                payment_intent=intent,
                amount=self.convert_amount(payment.currency, to_refund),
                reason="requested_by_customer",
            )
        except stripe.StripeError as exc:
            raise PaymentError(str(exc)) from exc
        payment.attrs.refund = refund.to_dict()
        payment.save()
        return to_refund

    def process_data(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        try:
            event = self.return_event_payload(request)
        except PaymentError as exc:
            return JsonResponse({"error": str(exc)}, status=exc.code or 400)
        if event.get("type") not in stripe_enabled_events:
            return JsonResponse({"status": "ignored"})
        session = event["data"]["object"]
        if session.get("id") != payment.transaction_id:
            logger.warning("Stripe event %s: not payment %s's session", event.get("id"), payment.pk)
            return JsonResponse({"error": "The session is not this payment's."}, status=400)
        self.apply_session(payment, session)
        return JsonResponse({"status": "OK"})

    def status(self, payment: Payment) -> Payment:
        """Read the Checkout Session back from Stripe (the shopper came back from Stripe
        before the webhook arrived)."""
        if payment.status in (PaymentStatus.WAITING, PaymentStatus.INPUT) and payment.transaction_id:
            stripe.api_key = self.api_key
            try:
                session = stripe.checkout.Session.retrieve(payment.transaction_id)
            except stripe.StripeError as exc:
                logger.warning("could not read Stripe session %s back: %s", payment.transaction_id, exc)
                return payment
            self.apply_session(payment, session.to_dict())
        return payment

    def apply_session(self, payment: Payment, session: Mapping[str, Any]) -> None:
        """A verified Checkout Session's state onto the payment: paid → confirmed with the
        amount Stripe charged (in another currency: nothing captured, the reason noted),
        expired → rejected."""
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED):
            return  # already applied (Stripe delivers events more than once)
        payment.attrs.session = dict(session)
        if session.get("status") == "expired":
            payment.save()
            if payment.status != PaymentStatus.CANCELLED:
                payment.change_status(PaymentStatus.REJECTED)
            return
        if session.get("payment_status") != "paid":
            payment.save()
            return
        currency = str(session.get("currency") or "")
        if currency.lower() == payment.currency.lower():
            payment.captured_amount = stripe_amount(currency, int(session.get("amount_total") or 0))
        else:
            payment.captured_amount = Decimal("0.00")
            payment.fraud_message = (
                f"Stripe charged {session.get('amount_total')} {currency.upper()} (minor units), "
                f"not {payment.currency}."
            )
        payment.save()  # change_status saves only the status
        payment.change_status(PaymentStatus.CONFIRMED)
