"""Writes of the API: issuing, checking and revoking partner keys; bags held by token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from api.models import ApiBag, ApiKey
from bag.models import Bag
from core.errors import ApplicationError, NotFound

KEY_PREFIX = "lk_"
BAG_TOKEN_PREFIX = "bag_"
# last_used is written at most this often per key (not one UPDATE per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class NotAuthenticated(ApplicationError):
    status = 401


class Forbidden(ApplicationError):
    status = 403


def _digest(secret: str) -> str:
    """Keys and bag tokens carry 256 random bits: one SHA-256 is the right hash (a slow password
    hash would only slow every request)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_issue(key: ApiKey) -> str:
    """Give an unsaved key its secret, store its hash, save it; returns the key itself (the
    only time it exists in the clear)."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key.prefix = raw[: len(KEY_PREFIX) + 8]
    key.hashed_key = _digest(raw)
    key.save()
    return raw


def api_key_create(
    *,
    name: str,
    scope_read: bool = True,
    scope_bag: bool = False,
    rate_limit: str = "",
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    key = ApiKey(name=name, scope_read=scope_read, scope_bag=scope_bag, rate_limit=rate_limit, created_by=created_by)
    return key, api_key_issue(key)


def api_key_revoke(key: ApiKey) -> None:
    if key.revoked is None:
        key.revoked = timezone.now()
        key.save(update_fields=["revoked"])


def api_key_authenticate(raw: str) -> ApiKey:
    """The active key behind ``raw`` (its last use noted); NotAuthenticated otherwise."""
    key = ApiKey.objects.filter(hashed_key=_digest(raw.strip())).first() if raw.strip() else None
    if key is None:
        raise NotAuthenticated("Unknown API key: check the X-API-Key header.")
    if key.revoked is not None:
        raise NotAuthenticated("This API key has been revoked.")
    now = timezone.now()
    if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        key.last_used = now
    return key


def api_bag_create(api_key: ApiKey | None) -> tuple[Bag, str]:
    """A new empty bag and its token (shown once; only its hash is kept)."""
    raw = BAG_TOKEN_PREFIX + secrets.token_urlsafe(24)
    bag = Bag.objects.create()
    ApiBag.objects.create(bag=bag, hashed_token=_digest(raw), api_key=api_key)
    return bag, raw


def api_bag_get(token: str) -> Bag:
    held = ApiBag.objects.select_related("bag").filter(hashed_token=_digest(token)).first()
    if held is None:
        raise NotFound("No bag with that token (bags left untouched for a month are deleted).")
    return held.bag
