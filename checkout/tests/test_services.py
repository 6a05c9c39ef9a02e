"""Checkout's writes (checkout.services): shipping rules and the quote, one order per
double-submitted checkout, the order's payment (a new one after a failed attempt)."""

from __future__ import annotations

import functools
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from bag.models import Bag
from bag.services import bag_add
from checkout.models import Payment
from checkout.services import (
    checkout_details_save,
    checkout_idempotency_key,
    checkout_order_for_session,
    checkout_place,
    checkout_quote,
    checkout_shipping_save,
    checkout_state,
    payment_for_order,
    shipping_methods,
)
from core.errors import Conflict, InvalidInput
from orders.models import Order, OrderStatus
from shop.models import Product
from tests.support.shopping import ADDRESS, add_to_bag, checkout_to_review, pay, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


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


def test_retry_after_a_failed_payment_pays_the_same_order(client, make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 2})
    add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number, status="rejected")
    assert pay(client, number).url == reverse("checkout:thanks", args=[number])
    assert Order.objects.get().status == OrderStatus.PAID
    assert Payment.objects.count() == 2


# --- The services called directly -------------------------------------------------------------


def _session() -> SessionStore:
    session = SessionStore()
    session.create()
    return session


def test_shipping_methods_and_their_costs() -> None:
    methods = shipping_methods()
    assert list(methods) == ["standard", "express"]
    standard, express = methods["standard"], methods["express"]
    assert standard.cost(Decimal("1998.99")) == Decimal("99.00")
    assert standard.cost(Decimal("1999.00")) == Decimal("0.00")  # free from the threshold on
    assert express.cost(Decimal("1999.00")) == express.cost(Decimal("1.00")) == Decimal("249.00")


def test_session_state_details_shipping_and_the_idempotency_key() -> None:
    session = _session()
    assert checkout_state(session) == {}
    checkout_details_save(session, email="a@example.com", address={**ADDRESS, "unknown": "dropped"})
    state = checkout_state(session)
    assert state["email"] == "a@example.com" and state["city"] == "Bengaluru" and "unknown" not in state
    with pytest.raises(InvalidInput, match="Choose a delivery option"):
        checkout_shipping_save(session, "teleport")
    checkout_shipping_save(session, "express")
    assert checkout_state(session)["shipping"] == "express"
    key = checkout_idempotency_key(session)
    assert len(key) == 32 and checkout_idempotency_key(session) == key  # the same until an order is placed


def test_quote_is_the_bag_at_todays_prices_plus_shipping(make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5})
    bag = Bag.objects.create()
    bag_add(bag, variant(product, "M").pk, 2)
    assert checkout_quote(bag, {}).total == Decimal("1000.00")  # no delivery chosen yet
    quote = checkout_quote(bag, {"shipping": "standard"})
    assert (quote.shipping_cost, quote.total) == (Decimal("99.00"), Decimal("1099.00"))
    assert checkout_quote(None, {"shipping": "express"}).bag.is_empty


def test_place_refuses_what_is_missing_and_places_once_per_key(make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5}, name="Placed Tee")
    session = _session()
    bag = Bag.objects.create()
    place = functools.partial(
        checkout_place, session=session, user=AnonymousUser(), idempotency_key="k-1", expected_total=None
    )
    with pytest.raises(InvalidInput, match="email and delivery address"):
        place(bag=bag)
    checkout_details_save(session, email=ADDRESS["email"], address=ADDRESS)
    with pytest.raises(InvalidInput, match="delivery option"):
        place(bag=bag)
    checkout_shipping_save(session, "standard")
    with pytest.raises(InvalidInput, match="Your bag is empty"):
        place(bag=bag)
    bag_add(bag, variant(product, "M").pk, 2)
    order = place(bag=bag)
    assert order.total == Decimal("1099.00") and not bag.lines.exists()
    assert place(bag=bag) == order  # the same key: the order already placed
    assert checkout_order_for_session(session, AnonymousUser(), order.number) == order
    assert checkout_order_for_session(_session(), AnonymousUser(), order.number) is None
    assert checkout_order_for_session(session, AnonymousUser(), "LA-NOPE") is None


def test_place_refuses_products_no_longer_sold(make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5}, name="Withdrawn Tee")
    session = _session()
    checkout_details_save(session, email=ADDRESS["email"], address=ADDRESS)
    checkout_shipping_save(session, "standard")
    bag = Bag.objects.create()
    bag_add(bag, variant(product, "M").pk)
    Product.objects.filter(pk=product.pk).update(is_active=False)
    with pytest.raises(Conflict, match="no longer available: Withdrawn Tee"):
        checkout_place(bag=bag, session=session, user=AnonymousUser(), idempotency_key="k", expected_total=None)
    assert not Order.objects.exists()


def test_an_order_not_waiting_for_payment_has_nothing_to_pay(make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5})
    session = _session()
    checkout_details_save(session, email=ADDRESS["email"], address=ADDRESS)
    checkout_shipping_save(session, "standard")
    bag = Bag.objects.create()
    bag_add(bag, variant(product, "M").pk)
    order = checkout_place(bag=bag, session=session, user=AnonymousUser(), idempotency_key="k", expected_total=None)
    payment = payment_for_order(order)
    assert payment_for_order(order) == payment  # the open payment, not a second one
    assert (payment.total, payment.billing_first_name, payment.billing_last_name) == (
        Decimal("599.00"),
        "Asha",
        "Shopper",
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    order.refresh_from_db()
    with pytest.raises(Conflict, match="is cancelled: nothing to pay"):
        payment_for_order(order)
