"""The shop's settings, each with its default once. A Django setting ``SHOP_<NAME>`` overrides
the default (``config/settings.py`` reads them from environment variables of the same name);
code reads ``shop_settings.<NAME>``."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # ISO 4217 code of the shop's prices; shown with its symbol when we know it.
    "CURRENCY": "INR",
}

CURRENCY_SYMBOLS: dict[str, str] = {"INR": "₹", "EUR": "€", "USD": "$", "GBP": "£"}


class _ShopSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"no shop setting {name!r}")
        from django.conf import settings

        return getattr(settings, f"SHOP_{name}", DEFAULTS[name])


shop_settings = _ShopSettings()
