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

import hashlib
import logging
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from django.core.cache import caches
from django.template.loader import get_template

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


@cache
def template_digest(name: str) -> str:
    """A digest of a template's source, once per process: cached HTML of a template that a
    deploy changed is never served (its keys change with it)."""
    source = get_template(name).template.source  # type: ignore[attr-defined]
    return hashlib.sha1(source.encode()).hexdigest()[:12]


def fragment_cached(template_name: str, key: str, render: Callable[[], str]) -> str:
    """HTML rendered from ``template_name``, cached under ``key`` (which must name the catalogue
    version and everything else the fragment shows) and the template's source."""
    return catalogue_cached(f"html:{template_name}:{template_digest(template_name)}:{key}", render)
