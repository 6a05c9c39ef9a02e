"""The events' buffer: the request appends an event (one Redis RPUSH, no database write); the
periodic task (``tasks.insights_flush``) moves them to the database in batches. Without Redis
(the embedded default) events wait in this process's memory and are written once the response
has been sent (``request_finished``)."""

from __future__ import annotations

import json
import logging
import threading
from functools import cache
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "lookalike:insights:events"
_local: list[str] = []
_lock = threading.Lock()


@cache
def _client() -> redis.Redis | None:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def uses_redis() -> bool:
    return _client() is not None


def event_push(event: dict[str, Any]) -> None:
    """Append an event; a Redis that is down loses the event, never the shopper's page."""
    payload = json.dumps(event, separators=(",", ":"))
    client = _client()
    if client is None:
        with _lock:
            _local.append(payload)
        return
    try:
        client.rpush(KEY, payload)
    except redis.RedisError as exc:
        logger.warning("insights: event not recorded (%s)", exc)


def events_take(limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` of the oldest events, removed from the buffer."""
    client = _client()
    if client is None:
        with _lock:
            taken = _local[:limit]
            del _local[:limit]
    else:
        pipe = client.pipeline(transaction=True)
        pipe.lrange(KEY, 0, limit - 1)
        pipe.ltrim(KEY, limit, -1)
        taken = pipe.execute()[0]
    return [json.loads(item) for item in taken]


def events_waiting() -> int:
    client = _client()
    if client is None:
        return len(_local)
    try:
        return int(client.llen(KEY))
    except redis.RedisError:
        return 0
