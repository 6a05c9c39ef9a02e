"""Keys for partners (named, scoped, revocable, stored hashed) and the bags API clients hold
by token."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from bag.models import Bag


class ApiKey(models.Model):
    """A partner's key. Only its SHA-256 is stored: the key itself is shown once, when it is
    created. ``prefix`` (the key's first characters) tells keys apart in the admin and logs."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. “iOS app” or “Partner shop ACME”.")
    prefix = models.CharField(max_length=16, editable=False, db_index=True)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scope_read = models.BooleanField("read", default=True, help_text="Products, facets, find similar and photo search.")
    scope_bag = models.BooleanField("bag", default=False, help_text="Create and fill bags by token.")
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        help_text="Requests per period for this key alone, e.g. “600/m” or “10000/h”; empty: API_KEY_RATE.",
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked is None

    @property
    def scopes(self) -> list[str]:
        return [name for name, on in (("read", self.scope_read), ("bag", self.scope_bag)) if on]


class ApiBag(models.Model):
    """A bag an API client holds by token (no session): only the token's SHA-256 is stored.
    Deleted with its bag (abandoned bags are pruned)."""

    bag = models.OneToOneField(Bag, on_delete=models.CASCADE, related_name="+")
    hashed_token = models.CharField(max_length=64, unique=True)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="bags")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API bag"

    def __str__(self) -> str:
        return f"API bag {self.bag_id}"
