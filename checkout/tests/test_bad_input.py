"""Bad input to checkout: every POST needs the CSRF token (the bag's and the accounts' POSTs:
bag/tests/test_bad_input.py, accounts/tests/test_bad_input.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from tests.support.shopping import ADDRESS

pytestmark = pytest.mark.django_db


def test_every_post_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    posts = [
        (reverse("checkout:details"), ADDRESS),
        (reverse("checkout:shipping"), {"method": "standard"}),
        (reverse("checkout:review"), {"idempotency_key": "x"}),
        (reverse("checkout:payment", args=["LA-1"]), {"status": "confirmed"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not Order.objects.exists()
