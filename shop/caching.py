"""The catalogue's cached reads, shared by every web process (the "catalogue" cache: Redis in
production, this process's memory without REDIS_URL).

What is cached is keyed by the catalogue version (``selectors.catalogue_version``), which every
product change bumps (``services.catalogue_changes_announce``: the admin, the import, orders'
stock changes), so a change shows in the next answer; old versions' entries are never read
again and expire. Counting at 250,000 products costs tens of milliseconds a facet: computed
once per version and query for all processes instead of once a minute in each.

The cache is an optimisation, never a dependency: when it cannot be reached the value is
computed as if nothing were cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import caches

from shop.conf import shop_settings

logger = logging.getLogger(__name__)

CACHE_ALIAS = "catalogue"
T = TypeVar("T")


def catalogue_cached(key: str, compute: Callable[[], T]) -> T:
    """The value under ``key`` (which must name the catalogue version it depends on), computed
    and stored for SHOP_CATALOGUE_CACHE_SECONDS when absent."""
    seconds = int(shop_settings.CATALOGUE_CACHE_SECONDS)
    if seconds <= 0:
        return compute()
    cache = caches[CACHE_ALIAS]
    try:
        value = cache.get(key)
    except Exception as exc:  # an unreachable cache: compute as if there were none
        logger.warning("catalogue cache unavailable: %s", exc)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, seconds)
        except Exception as exc:
            logger.warning("catalogue cache unavailable: %s", exc)
    return value
