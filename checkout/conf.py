"""Checkout's settings, each with its default once (like django-oscar's defaults.py). A Django
setting ``CHECKOUT_<NAME>`` overrides the default; config/settings/app_settings.py reads each
from the environment variable of the same name. Code reads ``checkout_settings.<NAME>``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.conf import app_settings


@dataclass(frozen=True)
class CheckoutSettings:
    # Standard delivery: a flat rate, free from this subtotal on (in the shop's currency).
    SHIPPING_FLAT_RATE: Decimal = Decimal("99.00")
    FREE_SHIPPING_OVER: Decimal = Decimal("1999.00")
    # Express delivery: always this rate.
    EXPRESS_RATE: Decimal = Decimal("249.00")
    # The django-payments variant (a key of PAYMENT_VARIANTS) new payments use.
    PAYMENT_VARIANT: str = "dummy"


checkout_settings = app_settings("CHECKOUT", CheckoutSettings)
