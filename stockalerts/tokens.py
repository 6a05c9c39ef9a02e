"""The unsubscribe link's token: the alert's id, signed (no expiry: a mail read months later
still unsubscribes)."""

from __future__ import annotations

from django.core import signing

_SALT = "stockalerts.unsubscribe"


def unsubscribe_token(alert_id: int) -> str:
    return signing.dumps(alert_id, salt=_SALT)


def alert_id_from_token(token: str) -> int | None:
    """The alert's id, or None for a token that was not made here (or was altered)."""
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
