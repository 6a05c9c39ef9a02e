"""Writes of discovery: the shopper's recently viewed products, kept in their session only
(nothing is stored about a shopper beyond the session)."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase

from discovery.conf import discovery_settings
from discovery.selectors import SESSION_KEY, recently_viewed_ids


def recently_viewed_add(session: SessionBase, product_id: int) -> None:
    """Put ``product_id`` first in the session's recently viewed list (once; the oldest
    fall off past DISCOVERY_RECENT_MAX). The session is only written when the list changes."""
    current = recently_viewed_ids(session)
    if current[:1] == [product_id]:
        return
    session[SESSION_KEY] = [product_id, *(pk for pk in current if pk != product_id)][: discovery_settings.RECENT_MAX]


def recently_viewed_clear(session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)
