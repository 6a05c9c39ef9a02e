"""`manage.py check --deploy`: the shop takes real payments. A dummy provider (no money moves)
fails the check unless the shop says it is a demo (DEMO_SHOP, then a warning), as does a
payment variant that is not configured or a Stripe variant without its webhook secret."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from checkout.conf import checkout_settings

DUMMY_PROVIDERS = ("checkout.providers.DummyProvider", "payments.dummy.DummyProvider")


@register(Tags.security, deploy=True)
def check_payments(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    variants: dict[str, tuple[str, dict[str, Any]]] = getattr(settings, "PAYMENT_VARIANTS", {})
    demo = getattr(settings, "DEMO_SHOP", False)
    found: list[CheckMessage] = []
    dummies = sorted(name for name, (path, _options) in variants.items() if path in DUMMY_PROVIDERS)
    if dummies and not demo:
        found.append(
            Error(
                f"The dummy payment provider is configured (variant {', '.join(dummies)}): it takes no money, "
                "any shopper can mark an order paid.",
                hint="Configure Stripe (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, CHECKOUT_PAYMENT_VARIANT=stripe; "
                "docs/deploy.md), or set LOOKALIKE_DEMO_SHOP=1 for a demo shop.",
                id="checkout.E001",
            )
        )
    if demo:
        found.append(
            Warning(
                "LOOKALIKE_DEMO_SHOP is on: this is a demo shop that takes no real payments.",
                id="checkout.W001",
            )
        )
    variant = checkout_settings.PAYMENT_VARIANT
    if variant not in variants:
        found.append(
            Error(
                f"CHECKOUT_PAYMENT_VARIANT is {variant!r}, which is not configured: checkout cannot take payments.",
                hint="With DEBUG off the dummy provider exists only in a demo shop. Configure Stripe and set "
                "CHECKOUT_PAYMENT_VARIANT=stripe (docs/deploy.md).",
                id="checkout.E002",
            )
        )
    for name, (path, options) in variants.items():
        if path == "checkout.providers.StripeProvider" and not options.get("endpoint_secret"):
            found.append(
                Error(
                    f"Payment variant {name!r} has no webhook secret: Stripe's payment notifications "
                    "cannot be verified, so no order is ever marked paid from them.",
                    hint="Set STRIPE_WEBHOOK_SECRET to the signing secret of the webhook endpoint (whsec_…).",
                    id="checkout.E003",
                )
            )
    return found
