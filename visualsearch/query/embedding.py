"""The query embedder: turns a photo's prepared model inputs into vectors.

Chosen once at start-up (``VisualSearchConfig.ready``, from VISUALSEARCH_QUERY_IN_PROCESS)
and handed to photo search: ``InProcessQueryEmbedder`` runs the model in this process (the
embedded default); the worker-backed one (``visualsearch.tasks.WorkerQueryEmbedder``) sends
the inputs to the Celery worker's "query" queue, so the web process never loads TensorFlow.
This module never imports the tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np


class QueryEmbedder(Protocol):
    """Embeds a batch of model inputs, (V, 224, 224, 3) uint8 → (V, 2048) float32; raises
    ``SearchUnavailable`` (with the shopper's message) when it cannot answer."""

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class InProcessQueryEmbedder:
    """The model in this process (loaded on first use)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        from visualsearch.ml import embedder

        return embedder.embed_batch(batch)

    def with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings and the stage-4 feature maps of one forward pass (the item localiser's input)."""
        from visualsearch.ml import embedder

        return embedder.embed_with_features(batch)


_installed: QueryEmbedder | None = None


def query_embedder_install(embedder: QueryEmbedder) -> None:
    """Make ``embedder`` the one photo search uses (at start-up)."""
    global _installed
    _installed = embedder


def query_embedder() -> QueryEmbedder:
    """The embedder installed at start-up (RuntimeError before the app is ready)."""
    if _installed is None:
        raise RuntimeError("No query embedder installed: visualsearch's AppConfig.ready installs one.")
    return _installed


def query_embedding(pixels: np.ndarray, embedder: QueryEmbedder | None = None) -> np.ndarray:
    """Embed a prepared photo: (224, 224, 3) → (2048,), or several inputs at once
    (V, 224, 224, 3) → (V, 2048), one batch, with ``embedder`` (default: the installed one)."""
    batch = pixels.reshape(-1, *pixels.shape[-3:])
    vectors = (embedder or query_embedder())(batch)
    return vectors[0] if pixels.ndim == 3 else vectors


def query_embedding_start(pixels: np.ndarray, embedder: QueryEmbedder | None = None) -> Callable[[], np.ndarray]:
    """Start ``query_embedding`` and return a call that waits for its result: with the query
    worker, the web process prepares the rest of the search (the photo's colour descriptor)
    while the model runs there. An embedder without ``start`` (the model in this process)
    embeds at once."""
    batch = pixels.reshape(-1, *pixels.shape[-3:])
    chosen = embedder or query_embedder()
    start = getattr(chosen, "start", None)
    if start is None:
        vectors = chosen(batch)
        wait: Callable[[], np.ndarray] = lambda: vectors  # noqa: E731
    else:
        wait = start(batch)

    def result() -> np.ndarray:
        vectors = wait()
        return vectors[0] if pixels.ndim == 3 else vectors

    return result


def query_embedding_with_features(
    pixels: np.ndarray, embedder: QueryEmbedder | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Embed prepared photos (V, 224, 224, 3) and return, from the same forward pass, their
    stage-4 feature maps (V, 14, 14, 1024) for the item localiser; None when the embedder
    cannot give feature maps (one that offers only ``__call__``)."""
    chosen = embedder or query_embedder()
    with_features = getattr(chosen, "with_features", None)
    if with_features is None:
        return None
    vectors, features = with_features(pixels.reshape(-1, *pixels.shape[-3:]))
    return np.asarray(vectors, np.float32), np.asarray(features, np.float32)
