"""Email: console in development; SMTP from the environment (EMAIL_URL, e.g.
smtp+tls://user:password@smtp.example.com:587) or any backend by EMAIL_BACKEND
(e.g. anymail.backends.postmark.EmailBackend with its ANYMAIL settings)."""

from typing import Any

from config.settings.base import env

DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Lookalike <orders@lookalike.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# What EMAIL_URL says; without it, Django's own defaults (an SMTP server on localhost:25).
_email_url: dict[str, Any] = env.email_url("EMAIL_URL") if "EMAIL_URL" in env.ENVIRON else {}
EMAIL_HOST = _email_url.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email_url.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email_url.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email_url.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email_url.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email_url.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email_url.get("EMAIL_FILE_PATH")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=_email_url.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
