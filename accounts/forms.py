from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    """User name, e-mail and password. Whether the address already has an account is never
    said here (accounts.services.user_sign_up answers both alike, by e-mail)."""

    email = forms.EmailField(help_text="We send a link there to finish creating your account.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()
