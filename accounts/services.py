"""Writes of customer accounts.

Sign-up never tells whether an address has an account: every valid sign-up answers "check
your email". A new address gets an inactive account and a link that activates it; an address
that has an active account gets an e-mail saying so (log in, or reset the password) and nothing
changes; one whose account still waits for activation gets the activation link again."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_decode, urlsafe_base64_encode

from accounts.forms import SignUpForm
from accounts.tokens import activation_token

logger = logging.getLogger(__name__)


def user_sign_up(form: SignUpForm, *, site_url: str, next_url: str = "") -> None:
    """Handle a valid sign-up form: one e-mail to the address either way (see the module)."""
    email = form.cleaned_data["email"]
    existing = get_user_model().objects.filter(email__iexact=email).order_by("-is_active", "pk").first()
    if existing is None:
        user = form.save(commit=False)
        user.is_active = False
        user.save()
        _send_activation(user, site_url=site_url, next_url=next_url)
        return
    # Spend the time a new account's password hash takes, so the answer's timing says nothing.
    make_password(form.cleaned_data["password1"])
    if existing.is_active:
        _send(
            existing,
            "Your Lookalike account",
            "accounts/email/account_exists.txt",
            {
                "login_url": site_url + reverse("accounts:login"),
                "reset_url": site_url + reverse("accounts:password_reset"),
            },
        )
    else:
        _send_activation(existing, site_url=site_url, next_url=next_url)


def user_activate(uidb64: str, token: str) -> User | None:
    """The account of an activation link, now active; None for a wrong, used or expired link."""
    try:
        pk = urlsafe_base64_decode(uidb64).decode()
        user = get_user_model().objects.filter(pk=int(pk)).first()
    except (ValueError, TypeError, OverflowError):
        return None
    if user is None or not activation_token.check_token(user, token):
        return None
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


def _send_activation(user: User, *, site_url: str, next_url: str) -> None:
    path = reverse(
        "accounts:activate",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": activation_token.make_token(user)},
    )
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    _send(
        user, "Finish creating your Lookalike account", "accounts/email/activate.txt", {"url": site_url + path + query}
    )


def _send(user: User, subject: str, template: str, context: dict[str, str]) -> None:
    body = render_to_string(template, {"user": user, **context})
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
