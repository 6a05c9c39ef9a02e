"""Reads of orders: a customer's own orders, and a guest's order by number and e-mail."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from orders.models import Order


def order_list_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    if not user.is_authenticated:
        return Order.objects.none()
    return Order.objects.filter(user_id=user.pk).prefetch_related("lines")


def order_get_for_user(user: AbstractBaseUser | AnonymousUser, number: str) -> Order | None:
    """The order with this number if it is this customer's; None otherwise (another customer's
    order and an anonymous visitor get the same answer as a number that does not exist)."""
    return order_list_for_user(user).filter(number=number).first()


def _email_digest(email: str) -> bytes:
    return hashlib.sha256(email.strip().casefold().encode()).digest()


def order_lookup(number: str, email: str) -> Order | None:
    """A guest's order by its number and the e-mail it was placed with; None when either is
    wrong. The e-mail is compared in constant time (digests of equal length), and an unknown
    number is compared against a random address, so that "no such order" and "wrong e-mail"
    take the same path and give the same answer (nobody learns which numbers exist)."""
    number = number.strip()
    # As typed or in capitals (numbers are made in capitals): both use the unique index.
    candidates = Order.objects.filter(number__in={number, number.upper()}).prefetch_related("lines")
    order = candidates.first() if number else None
    expected = order.email if order is not None else secrets.token_hex(16)
    matches = hmac.compare_digest(_email_digest(email), _email_digest(expected))
    return order if order is not None and matches else None
