"""Writes of customer accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from accounts.forms import SignUpForm


def user_sign_up(form: SignUpForm) -> AbstractBaseUser:
    """Create the customer from a valid sign-up form."""
    return form.save()
