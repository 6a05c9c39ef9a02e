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


def sign_up(client, username: str, email: str, **extra: str):
    return client.post(
        reverse("accounts:signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD, **extra},
    )


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def test_sign_up_mails_a_link_that_activates_and_logs_in(client, make_product, django_user_model) -> None:
    response = sign_up(client, "meera", "meera@example.com")
    assert response.status_code == 302 and response.url == reverse("accounts:signup_done")
    assert "Check your email" in client.get(response.url).content.decode()
    user = django_user_model.objects.get(username="meera")
    assert not user.is_active  # no account to log in to before the address is confirmed
    assert client.post(reverse("accounts:login"), {"username": "meera", "password": PASSWORD}).status_code == 200
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["meera@example.com"]
    link = link_in(mail.outbox[0])
    activated = client.get(link)
    assert activated.status_code == 302 and activated.url == reverse("shop:catalogue")
    assert "My orders" in client.get("/").content.decode()
    # The link works once.
    client.post(reverse("accounts:logout"))
    assert client.get(link).status_code == 400
    assert "My orders" not in client.get("/").content.decode()
    client.post(reverse("accounts:login"), {"username": "meera", "password": PASSWORD})
    product = priced_product(make_product, "400.00", {"M": 3}, name="Account Tee")
    add_to_bag(client, variant(product, "M"))
    assert client.get(reverse("checkout:details")).context["form"].initial["email"] == "meera@example.com"
    order = buy(client, product)
    assert order.user.username == "meera"
    history = client.get(reverse("accounts:orders")).content.decode()
    assert order.number in history and "Paid" in history
    detail = client.get(reverse("accounts:order_detail", args=[order.number])).content.decode()
    assert "Account Tee" in detail and "₹400.00" in detail


def test_sign_up_with_a_taken_address_answers_as_for_a_new_one(client, django_user_model) -> None:
    """Issue 19: the answer never says an address has an account; its owner gets an e-mail."""
    owner = django_user_model.objects.create_user("a", "taken@example.com", PASSWORD)
    taken = sign_up(client, "b", "TAKEN@example.com")
    fresh = sign_up(client, "c", "fresh@example.com")
    assert (taken.status_code, taken.url) == (fresh.status_code, fresh.url) == (302, reverse("accounts:signup_done"))
    assert not django_user_model.objects.filter(username="b").exists()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD) and owner.is_active  # nothing about it changed
    to_owner, to_fresh = mail.outbox
    assert to_owner.to == ["taken@example.com"] and "You already" in to_owner.body
    assert 'user name "a"' in to_owner.body and "/account/password-reset/" in to_owner.body
    assert "/account/activate/" not in to_owner.body
    assert to_fresh.to == ["fresh@example.com"] and "/account/activate/" in to_fresh.body


def test_signing_up_again_before_activating_sends_the_link_again(client, django_user_model) -> None:
    sign_up(client, "asha", "asha@example.com")
    again = sign_up(client, "asha2", "asha@example.com")
    assert again.url == reverse("accounts:signup_done")
    assert django_user_model.objects.filter(email="asha@example.com").count() == 1
    assert len(mail.outbox) == 2
    client.get(link_in(mail.outbox[1]))
    assert django_user_model.objects.get(username="asha").is_active


def test_activation_keeps_a_safe_next_and_drops_another_site(client) -> None:
    sign_up(client, "nia", "nia@example.com", next=reverse("checkout:details"))
    assert client.get(link_in(mail.outbox[0])).url == reverse("checkout:details")
    client.post(reverse("accounts:logout"))
    sign_up(client, "ola", "ola@example.com", next="https://evil.example/")
    assert client.get(link_in(mail.outbox[1])).url == reverse("shop:catalogue")


@pytest.mark.parametrize("path", ["MQ/wrong-token/", "!!!/x/", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5/abc-def/"])
def test_a_wrong_activation_link_is_a_page_not_an_error(client, path: str) -> None:
    answer = client.get(f"/account/activate/{path}")
    assert answer.status_code == 400 and "This link does not work any more" in answer.content.decode()


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
