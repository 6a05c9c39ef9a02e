"""Synthetic embeddings for load tests and benchmarks: random unit vectors for the products
that have no embedding, so a whole catalogue can be searched without a real reindex.

They are stored under their own model version (``SYNTHETIC_MODEL_VERSION``), never the real
one: ``reindex --missing`` and the admin's counts treat them as missing, and the index
serves them only when VISUALSEARCH_INDEX_SYNTHETIC is on (``scripts/loadtest`` sets it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from shop.models import Product
from visualsearch.index.loading import SYNTHETIC_MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services.changelog import index_changes_record
from visualsearch.services.embeddings import chunked

SYNTHETIC_CHECKSUM = "synthetic"
CHUNK = 2000


@dataclass
class SeedResult:
    written: int  # new synthetic embeddings
    relabelled: int  # older synthetic rows moved off the real model version


def synthetic_embeddings_seed(*, seed: int = 0, on_chunk: Callable[[int], None] = lambda n: None) -> SeedResult:
    """Give every active product without an embedding a random unit vector (deterministic
    for a seed), stored as done with ``SYNTHETIC_MODEL_VERSION``. Synthetic rows written
    before they had their own version are moved to it."""
    from visualsearch.ml.embedder import EMBEDDING_DIM, MODEL_VERSION

    relabelled = ProductEmbedding.objects.filter(source_checksum=SYNTHETIC_CHECKSUM, model_version=MODEL_VERSION)
    relabelled_ids = list(relabelled.values_list("product_id", flat=True))
    relabelled.update(model_version=SYNTHETIC_MODEL_VERSION)
    index_changes_record(relabelled_ids)
    ids = list(
        Product.objects.filter(is_active=True, embedding__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    rng = np.random.default_rng(seed)
    now = timezone.now()
    for chunk in chunked(ids, CHUNK):
        vectors = rng.standard_normal((len(chunk), EMBEDDING_DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ProductEmbedding.objects.bulk_create(
            [
                ProductEmbedding(
                    product_id=pid,
                    vector=vector.astype("<f4").tobytes(),
                    status=EmbeddingStatus.DONE,
                    model_version=SYNTHETIC_MODEL_VERSION,
                    source_checksum=SYNTHETIC_CHECKSUM,
                    computed_at=now,
                )
                for pid, vector in zip(chunk, vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        index_changes_record(chunk)
        on_chunk(len(chunk))
    return SeedResult(written=len(ids), relabelled=len(relabelled_ids))
