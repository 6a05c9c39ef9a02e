"""The token of an account-activation link: like a password-reset token (signed, expires after
PASSWORD_RESET_TIMEOUT), but its own salt, and void once the account is active."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.auth.tokens import PasswordResetTokenGenerator


class AccountActivationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.AccountActivationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


activation_token = AccountActivationTokenGenerator()
