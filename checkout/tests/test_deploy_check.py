"""`manage.py check --deploy` and payments (checkout/checks.py): with the production variables
and no real payment provider it fails; a demo shop gets the dummy provider and a warning; with
Stripe configured it is clean (tests/test_deploy_checks.py). The check's other refusals are
run in-process on the settings they are about."""

from __future__ import annotations

import pytest

from checkout.checks import check_payments
from tests.test_deploy_checks import _production_env, _run

WITHOUT_STRIPE = {"STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": None, "CHECKOUT_PAYMENT_VARIANT": None}


@pytest.mark.slow
def test_check_deploy_fails_without_a_real_payment_provider() -> None:
    done = _run(_production_env(**WITHOUT_STRIPE, LOOKALIKE_DEMO_SHOP=None), "manage.py", "check", "--deploy")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "checkout.E002" in output and "CHECKOUT_PAYMENT_VARIANT is 'dummy', which is not configured" in output


@pytest.mark.slow
def test_a_demo_shop_gets_the_dummy_provider_and_a_warning() -> None:
    env = _production_env(**WITHOUT_STRIPE, LOOKALIKE_DEMO_SHOP="1")
    done = _run(env, "manage.py", "check", "--deploy")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "checkout.W001" in output and "checkout.E00" not in output
    assert _run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING").returncode != 0


def test_the_dummy_provider_with_debug_off_is_an_error(settings) -> None:
    settings.DEMO_SHOP = False
    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "stripe": ("checkout.providers.StripeProvider", {"api_key": "sk", "endpoint_secret": "whsec"}),
    }
    settings.CHECKOUT_PAYMENT_VARIANT = "stripe"
    assert [message.id for message in check_payments()] == ["checkout.E001"]
    settings.DEMO_SHOP = True
    assert [message.id for message in check_payments()] == ["checkout.W001"]


def test_stripe_without_its_webhook_secret_is_an_error(settings) -> None:
    settings.DEMO_SHOP = False
    settings.PAYMENT_VARIANTS = {
        "stripe": ("checkout.providers.StripeProvider", {"api_key": "sk", "endpoint_secret": ""})
    }
    settings.CHECKOUT_PAYMENT_VARIANT = "stripe"
    assert [message.id for message in check_payments()] == ["checkout.E003"]
    settings.PAYMENT_VARIANTS["stripe"][1]["endpoint_secret"] = "whsec_x"
    assert check_payments() == []
