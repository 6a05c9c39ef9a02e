"""The shop's settings, each with its default once. A Django setting ``SHOP_<NAME>`` overrides
the default (``config/settings/app_settings.py`` reads them from environment variables of the
same name); code reads ``shop_settings.<NAME>``."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class ShopSettings:
    # ISO 4217 code of the shop's prices; shown with its symbol when we know it.
    CURRENCY: str = "INR"


CURRENCY_SYMBOLS: dict[str, str] = {"INR": "₹", "EUR": "€", "USD": "$", "GBP": "£"}


shop_settings = app_settings("SHOP", ShopSettings)
