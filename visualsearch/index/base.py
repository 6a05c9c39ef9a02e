"""What the search services need from an index: the ``SearchIndex`` protocol.

``VISUALSEARCH_INDEX_CLASS`` names the class; any class with these members works
(``visualsearch.index.memory.EmbeddingIndex`` names the exact in-memory index and
``visualsearch.index.faiss_index.FaissIndex`` the FAISS one, both served through
``visualsearch.index.loading.LiveIndex``; the tests run the search services against a second,
brute-force one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from visualsearch.ml.photo_projection import PhotoProjection

FULL_DIMS = 2048


class NotIndexed(LookupError):
    """The product has no embedding in the index (yet)."""


@dataclass(frozen=True)
class Hit:
    product_id: int
    score: float


@dataclass(frozen=True)
class ImageHit:
    """A hit on one of a product's more images."""

    image_id: int
    product_id: int
    score: float


@runtime_checkable
class ImageSearchIndex(Protocol):
    """An index that also holds the products' more images (``loading.LiveIndex``): photo
    search then matches a product through any of its photos."""

    def similar_images_to_vector(
        self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None
    ) -> list[ImageHit]:
        """The k more images nearest a raw (2048-dim) query, in the space of
        ``similar_to_vector``, best first (several may show one product)."""
        ...


@runtime_checkable
class SearchIndex(Protocol):
    def __len__(self) -> int:
        """How many products are searchable (refreshes first)."""
        ...

    @property
    def head_version(self) -> str | None:
        """The similarity head "find similar" ranks by (e.g. "head-v3"), None for the raw
        vectors. With a head, ``similar_to_product``'s hits are final (head + colour scores,
        not re-scored); without one they are raw-vector hits like ``similar_to_vector``'s."""
        ...

    @property
    def model_version(self) -> str:
        """What the index ranks with: the backbone's version, plus "+head-vN" with a head.
        Read with the hits of the same search (the index reloads when the head changes)."""
        ...

    @property
    def projected(self) -> bool:
        """Whether the index ranks approximately (projected or ANN vectors): the search
        services then re-score its best candidates with the stored full vectors."""
        ...

    def ensure_fresh(self) -> None:
        """Load on first use, then apply the change log when it is due."""
        ...

    def filter_values(self) -> dict[str, list[str]]:
        """For each searchable field, the non-empty values some indexed product has, sorted."""
        ...

    def similar_to_product(self, product_id: int, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to an indexed product, never the product itself, by
        the head (``head_version``) or the raw vectors; raises NotIndexed when it has no
        embedding in the index."""
        ...

    @property
    def photo_projection(self) -> PhotoProjection | None:
        """Photo search's learned space, when the active head carries one: the index's
        vectors (and ``similar_to_vector``'s query) are then in that space, and photo search
        re-scores its candidates in it. None: the raw (PCA-projected) vectors."""
        ...

    def similar_to_vector(self, vector: np.ndarray, k: int, filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k products most similar to a raw (2048-dim) query embedding, by the raw
        vectors or photo search's learned space (``photo_projection``), never by the head's
        find-similar space (it would lose the exact product)."""
        ...

    def memory_bytes(self) -> int:
        """Memory the index holds, for the benchmarks and the admin."""
        ...
