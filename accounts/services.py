"""Writes of customer accounts."""

from __future__ import annotations

from django.contrib.auth.models import User

from accounts.forms import SignUpForm


def user_sign_up(form: SignUpForm) -> User:
    """Create the customer from a valid sign-up form."""
    return form.save()
