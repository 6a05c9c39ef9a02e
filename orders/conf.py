"""The orders app's settings, each with its default once. A Django setting ``ORDERS_<NAME>``
overrides the default (config/settings/app_settings.py reads them from environment variables
of the same name); code reads ``orders_settings.<NAME>``."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class OrdersSettings:
    # An order still unpaid after this many minutes is cancelled and its stock released.
    PAYMENT_TIMEOUT_MINUTES: int = 30
    # Order numbers look like LA-261127-7F3A9C.
    NUMBER_PREFIX: str = "LA"
    # Where shoppers write about an order (the returns page's address for a return label).
    SUPPORT_EMAIL: str = "help@lookalike.example"


orders_settings = app_settings("ORDERS", OrdersSettings)
