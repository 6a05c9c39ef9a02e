"""The search index each process holds: the protocol (base), the data structures (the exact
in-memory index in memory, the FAISS index in faiss_index over an artifact), the shared PCA
projection they apply (projection), the loader that fills and refreshes them from the database
(loading), and this process's instance."""

from __future__ import annotations

import threading

from visualsearch.conf import vs_settings
from visualsearch.index.base import Hit, ImageHit, ImageSearchIndex, NotIndexed, SearchIndex

__all__ = [
    "Hit",
    "ImageHit",
    "ImageSearchIndex",
    "NotIndexed",
    "SearchIndex",
    "get_index",
    "index_class_path",
    "loaded_index",
    "reset_index",
]

_index: SearchIndex | None = None
_index_lock = threading.Lock()


def get_index() -> SearchIndex:
    """This process's index (created on first use, loaded on first search): the one the
    class VISUALSEARCH_INDEX_CLASS names (see ``loading.index_for_class_path``)."""
    global _index
    if _index is None:
        with _index_lock:
            if _index is None:
                from visualsearch.index.loading import index_for_class_path

                _index = index_for_class_path(index_class_path())
    return _index


def index_class_path() -> str:
    """VISUALSEARCH_INDEX_CLASS, with "auto" resolved: the exact in-memory index below
    VISUALSEARCH_INDEX_AUTO_FAISS_ROWS searchable products, the FAISS index from there on
    (decided once per process, at its first search)."""
    name = str(vs_settings.INDEX_CLASS)
    if name != "auto":
        return name
    from visualsearch.models import ProductEmbedding

    rows = ProductEmbedding.objects.filter(product__is_active=True, vector__isnull=False).count()
    if rows >= int(vs_settings.INDEX_AUTO_FAISS_ROWS):
        return "visualsearch.index.faiss_index.FaissIndex"
    return "visualsearch.index.memory.EmbeddingIndex"


def loaded_index() -> SearchIndex | None:
    """This process's index if it has loaded (for metrics: looking never loads it)."""
    index = _index
    return index if index is not None and getattr(index, "loaded", True) else None


def reset_index() -> None:
    global _index
    with _index_lock:
        _index = None
