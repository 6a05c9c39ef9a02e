"""Reads of orders: a customer's own orders only."""

from __future__ import annotations

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
