"""Bad input to accounts: every POST needs the CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_post_needs_the_csrf_token(django_user_model) -> None:
    client = Client(enforce_csrf_checks=True)
    posts = [
        (reverse("accounts:login"), {"username": "a", "password": "b"}),
        (reverse("accounts:logout"), {}),
        (reverse("accounts:signup"), {"username": "a"}),
        (reverse("accounts:password_reset"), {"email": "a@example.com"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not django_user_model.objects.exists()
