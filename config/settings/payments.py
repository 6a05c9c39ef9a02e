"""Payments (django-payments). The dummy provider (a form to confirm or reject the payment)
in development and tests; Stripe when STRIPE_SECRET_KEY is set and CHECKOUT_PAYMENT_VARIANT=stripe."""

from typing import Any

from config.settings.base import DEBUG, env

PAYMENT_MODEL = "checkout.Payment"
PAYMENT_HOST = env("PAYMENT_HOST", default="127.0.0.1:8000")
PAYMENT_USES_SSL = env.bool("PAYMENT_USES_SSL", default=not DEBUG)
PAYMENT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"dummy": ("payments.dummy.DummyProvider", {})}
if env("STRIPE_SECRET_KEY", default=""):
    PAYMENT_VARIANTS["stripe"] = (
        "payments.stripe.StripeProviderV3",
        {
            "api_key": env("STRIPE_SECRET_KEY"),
            "endpoint_secret": env("STRIPE_WEBHOOK_SECRET", default=None),
            "use_token": True,
            "secure_endpoint": env.bool("STRIPE_SECURE_ENDPOINT", default=True),
        },
    )
