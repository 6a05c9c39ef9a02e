"""``{% load money %}{{ product.price|money }}``: an amount in the shop's currency."""

from __future__ import annotations

from decimal import Decimal

from django import template

from shop.money import money_format

register = template.Library()


@register.filter
def money(amount: Decimal | int | float | str | None, currency: str | None = None) -> str:
    return money_format(amount, currency)
