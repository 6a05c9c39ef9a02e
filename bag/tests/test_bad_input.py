"""Bad input to the bag: every POST needs the CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from bag.models import Bag
from tests.support.shopping import priced_product, variant

pytestmark = pytest.mark.django_db


def test_every_post_needs_the_csrf_token(make_product) -> None:
    product = priced_product(make_product, "500.00", {"M": 5})
    v = variant(product, "M")
    client = Client(enforce_csrf_checks=True)
    posts = [
        (reverse("bag:add"), {"variant": v.pk}),
        (reverse("bag:line_update", args=[1]), {"quantity": 2}),
        (reverse("bag:line_remove", args=[1]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not Bag.objects.exists()
