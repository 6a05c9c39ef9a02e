"""The photo-search query kept for refining: its embedding, colour, box and preview, kept in
a cache under a random token, so refining re-ranks without the photo and without the model."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

import numpy as np
from django.conf import settings as django_settings
from django.core.cache import BaseCache, caches

from core.errors import InvalidInput
from visualsearch.conf import vs_settings
from visualsearch.query.errors import QueryExpired
from visualsearch.query.photo import Box

logger = logging.getLogger(__name__)

# The cache alias that keeps photo-search queries (config/settings.py: Redis in production,
# this process's memory in the embedded default); "default" where a project has none.
QUERY_CACHE = "photo_queries"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class StoredItem:
    """One item of a photo: its box, how it was found (``source``: "detected" by the item
    localiser with its ``score``, "drawn" by the shopper, or the "default" box with uniform
    borders trimmed), and its embedding and colour descriptor (one row per model input)."""

    box: Box
    score: float | None
    source: str
    vector: np.ndarray
    colour: np.ndarray | None


@dataclass(frozen=True)
class StoredQuery:
    """What refining a photo search needs: the region's embedding and colour descriptor, the
    box, and the small preview the page shows; ``items``: every item found in the photo, most
    confident first (the first is the region above). Never the photo itself."""

    vector: np.ndarray
    colour: np.ndarray | None
    box: Box
    preview_data_url: str
    model_version: str
    items: tuple[StoredItem, ...] = ()


def _array_bytes(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.asarray(array, dtype="<f4").tobytes()


def _array(data: bytes | None) -> np.ndarray | None:
    return None if data is None else np.frombuffer(data, dtype="<f4")


def query_cache() -> BaseCache:
    """The cache that keeps the queries (QUERY_CACHE, else "default")."""
    return caches[QUERY_CACHE if QUERY_CACHE in django_settings.CACHES else "default"]


def _expired_message() -> str:
    minutes = max(1, round(float(vs_settings.QUERY_TOKEN_SECONDS) / 60))
    return (
        f"This photo search has expired (searches are kept for {minutes} minutes). "
        "Please search again: choose your photo once more."
    )


def store_query(query: StoredQuery) -> str:
    """Keep the query for VISUALSEARCH_QUERY_TOKEN_SECONDS under a new random token, which
    it returns ("" when the cache is unavailable: the results still show, refining then
    asks for the photo again)."""
    token = secrets.token_urlsafe(18)
    value = {
        "vector": np.asarray(query.vector, dtype="<f4").tobytes(),
        "colour": None if query.colour is None else np.asarray(query.colour, dtype="<f4").tobytes(),
        "box": list(query.box),
        "preview": query.preview_data_url,
        "model": query.model_version,
        "items": [
            {
                "box": list(item.box),
                "score": item.score,
                "source": item.source,
                "vector": _array_bytes(item.vector),
                "colour": _array_bytes(item.colour),
            }
            for item in query.items
        ],
    }
    try:
        query_cache().set(f"q:{token}", value, timeout=int(vs_settings.QUERY_TOKEN_SECONDS))
    except Exception as exc:  # Redis down or frozen: the search itself still answers
        logger.warning("photo-search query not kept for refining: %s", exc)
        return ""
    return token


def load_query(token: str) -> StoredQuery:
    """The query kept under ``token``: InvalidInput for a malformed token, QueryExpired for
    an unknown or expired one (or one embedded by another model)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    if not _TOKEN.match(token or ""):
        raise InvalidInput("q must be the token a photo search returned.")
    try:
        value = query_cache().get(f"q:{token}")
    except Exception as exc:
        logger.warning("photo-search query cache unavailable: %s", exc)
        value = None
    if not isinstance(value, dict) or value.get("model") != MODEL_VERSION:
        raise QueryExpired(_expired_message())
    colour = value.get("colour")
    return StoredQuery(
        vector=np.frombuffer(value["vector"], dtype="<f4"),
        colour=None if colour is None else np.frombuffer(colour, dtype="<f4"),
        box=tuple(float(v) for v in value["box"]),  # type: ignore[arg-type]
        preview_data_url=str(value.get("preview", "")),
        model_version=str(value["model"]),
        items=tuple(
            StoredItem(
                box=tuple(float(v) for v in item["box"]),  # type: ignore[arg-type]
                score=None if item.get("score") is None else float(item["score"]),
                source=str(item.get("source", "detected")),
                vector=_array(item["vector"]),  # type: ignore[arg-type]
                colour=_array(item.get("colour")),
            )
            for item in value.get("items", ())
        ),
    )
