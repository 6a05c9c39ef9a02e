"""Payments (django-payments).

- Stripe (Stripe Checkout, checkout/providers.py) takes real payments: set STRIPE_SECRET_KEY,
  STRIPE_WEBHOOK_SECRET and CHECKOUT_PAYMENT_VARIANT=stripe (docs/deploy.md).
- The dummy provider (a form where the shopper picks "confirmed" or "rejected") takes no money.
  It exists with DJANGO_DEBUG=1 (development), in the test settings, and in a demo shop
  (LOOKALIKE_DEMO_SHOP=1: every page then says "demo shop: no real payments"). With DEBUG off
  and no demo shop it is not configured at all, and `check --deploy` fails on a dummy variant
  or a payment variant that is not configured (checkout/checks.py).
"""

from typing import Any

from config.settings.base import DEBUG, env

# A demo shop takes no real payments, and every page says so.
DEMO_SHOP = env.bool("LOOKALIKE_DEMO_SHOP", default=False)

PAYMENT_MODEL = "checkout.Payment"
PAYMENT_HOST = env("PAYMENT_HOST", default="127.0.0.1:8000")
PAYMENT_USES_SSL = env.bool("PAYMENT_USES_SSL", default=not DEBUG)
PAYMENT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {}
if DEBUG or DEMO_SHOP:
    PAYMENT_VARIANTS["dummy"] = ("checkout.providers.DummyProvider", {})
if env("STRIPE_SECRET_KEY", default=""):
    PAYMENT_VARIANTS["stripe"] = (
        "checkout.providers.StripeProvider",
        {"api_key": env("STRIPE_SECRET_KEY"), "endpoint_secret": env("STRIPE_WEBHOOK_SECRET", default="")},
    )
