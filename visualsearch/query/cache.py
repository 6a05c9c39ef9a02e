"""Find similar's rankings, cached across processes in the "search" cache (Redis in production).

A ranking (the product ids and scores of ``ranking.similar_hits``) depends only on what the
index holds and on the question (product, k, filters), so it is kept under the index's
``content_key()`` (model, artifact, projection, head and the change log applied) and the
question. Any change the index applies (a product edited, its stock or image changed, a new
embedding, a new artifact, projection or head) gives a new content key: the cached rankings
of the old content are never read again, and expire. The products shown with a ranking are
always read from the database (names, prices and stock are never cached here).

An index that cannot name its content (the tests' plain indexes) is searched every time, and
so is every search when the cache cannot be reached: it is an optimisation, never a dependency.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from django.core.cache import caches

from visualsearch.conf import vs_settings
from visualsearch.index import Hit, SearchIndex
from visualsearch.query.ranking import similar_hits

logger = logging.getLogger(__name__)

CACHE_ALIAS = "search"
# Bumped when what is stored under a key changes shape.
KEY_VERSION = 1


def similar_key(content: str, product_id: int, k: int, filters: Mapping[str, Any]) -> str:
    question = "&".join(f"{name}={filters[name]!r}" for name in sorted(filters))
    digest = hashlib.sha1(f"{content}|{product_id}|{k}|{question}".encode()).hexdigest()
    return f"similar:{KEY_VERSION}:{digest}"


def similar_hits_cached(
    index: SearchIndex, product_id: int, k: int, filters: Mapping[str, Any]
) -> tuple[list[Hit], str]:
    """``ranking.similar_hits``, from the cache when this index content answered it before."""
    content_key = getattr(index, "content_key", None)
    seconds = int(vs_settings.SIMILAR_CACHE_SECONDS)
    if content_key is None or seconds <= 0:
        return similar_hits(index, product_id, k, filters)
    key = similar_key(content_key(), product_id, k, filters)
    cache = caches[CACHE_ALIAS]
    try:
        cached = cache.get(key)
    except Exception as exc:  # an unreachable cache: search as if there were none
        logger.warning("search cache unavailable: %s", exc)
        return similar_hits(index, product_id, k, filters)
    if cached is not None:
        rows, version = cached
        return [Hit(pid, score) for pid, score in rows], version
    hits, version = similar_hits(index, product_id, k, filters)
    try:
        cache.set(key, ([(h.product_id, h.score) for h in hits], version), seconds)
    except Exception as exc:
        logger.warning("search cache unavailable: %s", exc)
    return hits, version
