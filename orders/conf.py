"""The orders app's settings, each with its default once. A Django setting ``ORDERS_<NAME>``
overrides the default (config/settings.py reads them from environment variables of the same
name); code reads ``orders_settings.<NAME>``."""

from __future__ import annotations

from typing import Any

from core.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # An order still unpaid after this many minutes is cancelled and its stock released.
    "PAYMENT_TIMEOUT_MINUTES": 30,
    # Order numbers look like LA-261127-7F3A9C.
    "NUMBER_PREFIX": "LA",
}


orders_settings = AppSettings("ORDERS", DEFAULTS)
