"""Test workers (pytest-xdist's ``gw0``, ``gw1``, …) and what each needs of its own."""

from __future__ import annotations


def redis_url_for_worker(url: str, worker: str) -> str:
    """``url`` with a Redis database of the worker's own: the next ones after ``url``'s (``gw0``
    the next, ``gw1`` the one after), modulo Redis's 16. Outside xdist, or without Redis, ``url``."""
    base, _, db = url.rpartition("/")
    if not worker.startswith("gw") or not base:
        return url
    return f"{base}/{(int(db or 0) + 1 + int(worker[2:])) % 16}"
