from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customer accounts on Django's auth: sign up, log in/out, password reset, order history."""

    name = "accounts"
    verbose_name = "Customer accounts"
