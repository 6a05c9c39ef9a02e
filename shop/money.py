"""Amounts of money as shoppers read them, in the shop's currency (SHOP_CURRENCY)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shop.conf import CURRENCY_SYMBOLS, shop_settings

CENT = Decimal("0.01")


def money_format(amount: Decimal | int | float | str | None, currency: str | None = None) -> str:
    """``₹1,299.00``; an unknown currency is written with its code (``CHF 12.50``); no amount → ""."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    code = (currency or shop_settings.CURRENCY).upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,.2f}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"
