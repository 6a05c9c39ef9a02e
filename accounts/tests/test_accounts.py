"""Customer accounts: sign up, log in/out, password reset, order history and detail; a customer
sees only their own orders (another customer and an anonymous visitor get 404)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from orders.models import Order
from tests.support.shopping import add_to_bag, checkout_to_review, pay, place_order, priced_product, variant

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"


def buy(client, product) -> Order:
    if client.get(reverse("bag:detail")).context["bag"].is_empty:
        add_to_bag(client, variant(product, "M"))
    number = place_order(client, checkout_to_review(client)).url.split("/")[-3]
    pay(client, number)
    return Order.objects.get(number=number)


def test_sign_up_logs_in_and_the_checkout_is_linked_to_the_account(client, make_product) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"username": "meera", "email": "meera@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert "My orders" in client.get("/").content.decode()
    product = priced_product(make_product, "400.00", {"M": 3}, name="Account Tee")
    add_to_bag(client, variant(product, "M"))
    assert client.get(reverse("checkout:details")).context["form"].initial["email"] == "meera@example.com"
    order = buy(client, product)
    assert order.user.username == "meera"
    history = client.get(reverse("accounts:orders")).content.decode()
    assert order.number in history and "Paid" in history
    detail = client.get(reverse("accounts:order_detail", args=[order.number])).content.decode()
    assert "Account Tee" in detail and "₹400.00" in detail


def test_duplicate_email_is_refused_at_sign_up(client, django_user_model) -> None:
    django_user_model.objects.create_user("a", "taken@example.com", PASSWORD)
    response = client.post(
        reverse("accounts:signup"),
        {"username": "b", "email": "TAKEN@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200 and "exists already" in response.content.decode()


def test_another_customer_and_anonymous_get_404(client, django_user_model, make_product) -> None:
    owner = django_user_model.objects.create_user("owner", "owner@example.com", PASSWORD)
    django_user_model.objects.create_user("other", "other@example.com", PASSWORD)
    product = priced_product(make_product, "400.00", {"M": 3})
    client.force_login(owner)
    order = buy(client, product)
    url = reverse("accounts:order_detail", args=[order.number])
    assert client.get(url).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(url).status_code == 404  # anonymous
    assert client.get(reverse("checkout:thanks", args=[order.number])).status_code == 404
    client.post(reverse("accounts:login"), {"username": "other", "password": PASSWORD})
    assert client.get(url).status_code == 404  # another customer
    assert client.get(reverse("checkout:thanks", args=[order.number])).status_code == 404
    assert order.number not in client.get(reverse("accounts:orders")).content.decode()
    assert "No orders yet" in client.get(reverse("accounts:orders")).content.decode()


def test_order_history_needs_login(client) -> None:
    response = client.get(reverse("accounts:orders"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_log_in_and_out(client, django_user_model) -> None:
    django_user_model.objects.create_user("asha", "asha@example.com", PASSWORD)
    assert "Log in" in client.get("/").content.decode()
    bad = client.post(reverse("accounts:login"), {"username": "asha", "password": "nope"})
    assert bad.status_code == 200 and "correct username and password" in bad.content.decode()
    assert client.post(reverse("accounts:login"), {"username": "asha", "password": PASSWORD}).status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "Log in" in client.get("/").content.decode()


def test_password_reset_by_email(client, django_user_model) -> None:
    django_user_model.objects.create_user("asha", "asha@example.com", PASSWORD)
    response = client.post(reverse("accounts:password_reset"), {"email": "asha@example.com"})
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/account/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    new = "n3w-Secret-456"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.url == reverse("accounts:password_reset_complete")
    # The new password logs in through the site's own form (django-axes wants the request).
    assert client.post(reverse("accounts:login"), {"username": "asha", "password": new}).status_code == 302
