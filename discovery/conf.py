"""Discovery's settings, each with its default once. A Django setting ``DISCOVERY_<NAME>``
overrides the default (``config/settings/app_settings.py`` reads them from environment variables
of the same name); code reads ``discovery_settings.<NAME>``."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class DiscoverySettings:
    # Products kept in the session's "recently viewed" list (most recent first).
    RECENT_MAX: int = 12
    # Products in a "Recently viewed" or "Inspired by what you viewed" row.
    ROW_LENGTH: int = 6
    # "Inspired by": the most recently viewed products it starts from, and how many
    # lookalikes of each it looks through (round-robin, best first).
    INSPIRED_SEEDS: int = 5
    INSPIRED_NEIGHBOURS: int = 30
    # At most this many products of one article type in an "Inspired by" row.
    INSPIRED_PER_TYPE: int = 2


discovery_settings = app_settings("DISCOVERY", DiscoverySettings)
