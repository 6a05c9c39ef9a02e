"""Checkout's writes: the shopper's details and shipping choice (kept in the session), placing
the order from the bag (orders.services.order_place), and the order's payment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from payments import PaymentStatus
from payments.core import provider_factory

from bag.models import Bag
from bag.selectors import BagSummary, bag_summary
from bag.services import bag_clear
from checkout.conf import checkout_settings
from checkout.models import Payment
from core.errors import Conflict, InvalidInput, Unavailable
from orders.models import Order, OrderStatus
from orders.services import OrderItem, ShippingAddress, order_place

SESSION_KEY = "checkout"
ORDERS_SESSION_KEY = "checkout_orders"
ADDRESS_FIELDS = ("full_name", "address_line1", "address_line2", "city", "postcode", "country", "phone")


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    name: str
    description: str
    rate: Decimal
    free_over: Decimal | None = None

    def cost(self, subtotal: Decimal) -> Decimal:
        if self.free_over is not None and subtotal >= self.free_over:
            return Decimal("0.00")
        return self.rate


def shipping_methods() -> dict[str, ShippingMethod]:
    standard = ShippingMethod(
        "standard",
        "Standard delivery",
        "3–5 working days",
        checkout_settings.SHIPPING_FLAT_RATE,
        checkout_settings.FREE_SHIPPING_OVER,
    )
    express = ShippingMethod("express", "Express delivery", "1–2 working days", checkout_settings.EXPRESS_RATE)
    return {m.code: m for m in (standard, express)}


def checkout_state(session: SessionBase) -> dict[str, Any]:
    return dict(session.get(SESSION_KEY, {}))


def checkout_details_save(session: SessionBase, *, email: str, address: dict[str, str]) -> None:
    state = checkout_state(session)
    state.update({"email": email, **{k: address.get(k, "") for k in ADDRESS_FIELDS}})
    session[SESSION_KEY] = state


def checkout_shipping_save(session: SessionBase, code: str) -> None:
    if code not in shipping_methods():
        raise InvalidInput("Choose a delivery option.")
    state = checkout_state(session)
    state["shipping"] = code
    session[SESSION_KEY] = state


def checkout_idempotency_key(session: SessionBase) -> str:
    """The key of the checkout in progress: the same until an order is placed with it, so a
    double click, a refresh or a retry of the review form all submit the same checkout."""
    state = checkout_state(session)
    if not state.get("key"):
        state["key"] = uuid.uuid4().hex
        session[SESSION_KEY] = state
    return state["key"]


@dataclass
class Quote:
    bag: BagSummary
    shipping: ShippingMethod | None
    shipping_cost: Decimal
    total: Decimal


def checkout_quote(bag: Bag | None, state: dict[str, Any]) -> Quote:
    """What the order would cost now, at today's prices."""
    summary = bag_summary(bag)
    method = shipping_methods().get(state.get("shipping", ""))
    cost = method.cost(summary.subtotal) if method else Decimal("0.00")
    return Quote(summary, method, cost, summary.subtotal + cost)


def checkout_place(
    *,
    bag: Bag | None,
    session: SessionBase,
    user: User | AnonymousUser,
    idempotency_key: str,
    expected_total: Decimal | None,
) -> Order:
    """Place the order for the bag as reviewed. The same key gives back the order already placed
    with it (the bag is empty by then). Raises OutOfStock / PriceChanged / InvalidInput."""
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    state = checkout_state(session)
    if not state.get("email") or not state.get("full_name"):
        raise InvalidInput("Please fill in your email and delivery address first.")
    method = shipping_methods().get(state.get("shipping", ""))
    if method is None:
        raise InvalidInput("Please choose a delivery option first.")
    summary = bag_summary(bag)
    if summary.is_empty:
        raise InvalidInput("Your bag is empty.")
    unavailable = [line for line in summary.lines if line.problem == "No longer available"]
    if unavailable:
        raise Conflict(
            "Some items are no longer available: "
            + ", ".join(line.product.name for line in unavailable)
            + ". Please remove them from your bag."
        )
    order = order_place(
        items=[OrderItem(line.variant.pk, line.quantity) for line in summary.lines],
        email=state["email"],
        address=ShippingAddress(**{k: state.get(k, "") for k in ADDRESS_FIELDS}),
        shipping_method=method.code,
        shipping_method_name=method.name,
        shipping_cost=method.cost,
        idempotency_key=idempotency_key,
        user=user if user.is_authenticated else None,
        expected_total=expected_total,
    )
    if bag is not None:
        bag_clear(bag)
    state.pop("key", None)
    session[SESSION_KEY] = state
    session[ORDERS_SESSION_KEY] = [*session.get(ORDERS_SESSION_KEY, [])[-19:], order.number]
    return order


def checkout_order_for_session(
    session: SessionBase, user: AbstractBaseUser | AnonymousUser, number: str
) -> Order | None:
    """An order this shopper may see in checkout: placed in this session, or theirs."""
    order = Order.objects.filter(number=number).first()
    if order is None:
        return None
    if number in session.get(ORDERS_SESSION_KEY, []):
        return order
    if user.is_authenticated and order.user_id == user.pk:
        return order
    return None


class PaymentsUnavailable(Unavailable):
    def __init__(self) -> None:
        super().__init__("We cannot take payments right now. Your order is kept: please try again later.")


def payment_refresh(order: Order) -> None:
    """Ask the provider about the order's open payment (the shopper came back from the
    provider's page before its notification arrived); a confirmed answer pays the order
    through checkout.receivers. Nothing the browser sends counts."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        return
    payment = (
        order.payments.filter(status__in=[PaymentStatus.WAITING, PaymentStatus.INPUT])
        .exclude(transaction_id="")
        .order_by("-pk")
        .first()
    )
    if payment is None or payment.variant not in settings.PAYMENT_VARIANTS:
        return
    with transaction.atomic():
        provider_factory(payment.variant, payment).status(payment)
    order.refresh_from_db()


def payment_for_order(order: Order) -> Payment:
    """The order's open payment, or a new one (after a failed attempt). Locked on the order so
    that a double-submitted checkout opens one payment."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise Conflict(f"Order {order.number} is {order.get_status_display().lower()}: nothing to pay.")
    if checkout_settings.PAYMENT_VARIANT not in settings.PAYMENT_VARIANTS:
        # A shop without a payment provider (check --deploy says so): refuse, take nothing.
        raise PaymentsUnavailable()
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).first()
        payment = order.payments.filter(status__in=[PaymentStatus.WAITING, PaymentStatus.INPUT]).order_by("-pk").first()
        if payment is None:
            payment = Payment.objects.create(
                order=order,
                variant=checkout_settings.PAYMENT_VARIANT,
                description=f"Lookalike order {order.number}",
                total=order.total,
                delivery=order.shipping_cost,
                tax=Decimal("0.00"),
                currency=order.currency,
                billing_first_name=order.full_name.split(" ")[0][:256],
                billing_last_name=" ".join(order.full_name.split(" ")[1:])[:256],
                billing_address_1=order.address_line1,
                billing_address_2=order.address_line2,
                billing_city=order.city,
                billing_postcode=order.postcode,
                billing_email=order.email,
            )
    return payment
