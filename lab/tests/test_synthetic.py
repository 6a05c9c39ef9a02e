"""Synthetic embeddings (lab.synthetic, ``seed_synthetic_embeddings``) never pass for real ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from lab import synthetic
from lab.tests.known_catalogue import known_vectors
from shop.models import Product
from visualsearch.index import get_index, reset_index
from visualsearch.index.base import FULL_DIMS
from visualsearch.index.loading import SYNTHETIC_MODEL_VERSION
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.selectors import embedding_counts
from visualsearch.services.reindex import reindex_job_start


@pytest.mark.django_db
def test_synthetic_embeddings_are_not_real_ones(known_products: list[Product], make_product, settings) -> None:
    real = known_products[:2]
    ProductEmbedding.objects.exclude(product__in=real).delete()
    old_style = known_products[2]  # written by an older seed_synthetic_embeddings: the real version
    ProductEmbedding.objects.create(
        product=old_style,
        vector=known_vectors()[2].astype("<f4").tobytes(),
        status=EmbeddingStatus.DONE,
        model_version=MODEL_VERSION,
        source_checksum=synthetic.SYNTHETIC_CHECKSUM,
    )
    without = known_products[3:]
    out = io.StringIO()
    call_command("seed_synthetic_embeddings", "--yes", stdout=out, stderr=io.StringIO())
    assert f"{len(without)} synthetic embeddings written." in out.getvalue()
    assert "1 older synthetic embeddings moved" in out.getvalue()
    fake = ProductEmbedding.objects.filter(source_checksum=synthetic.SYNTHETIC_CHECKSUM)
    assert fake.count() == len(without) + 1
    assert set(fake.values_list("model_version", flat=True)) == {SYNTHETIC_MODEL_VERSION}
    vector = np.frombuffer(bytes(fake.exclude(product=old_style).first().vector), dtype="<f4")
    assert vector.shape == (FULL_DIMS,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)

    # The admin counts them as not current (stale), the index serves them only when asked
    # (the load test sets VISUALSEARCH_INDEX_SYNTHETIC).
    counts = embedding_counts()
    assert (counts.done, counts.stale, counts.to_reindex) == (2, len(without) + 1, len(without) + 1)
    assert len(get_index()) == 2
    settings.VISUALSEARCH_INDEX_SYNTHETIC = True
    reset_index()
    assert len(get_index()) == len(known_products)

    # reindex --missing covers every synthetic one.
    job = reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)
    assert job.total == len(without) + 1
    assert set(ProductEmbedding.objects.filter(job=job).values_list("product_id", flat=True)) == {
        p.pk for p in known_products[2:]
    }


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_seed_command_needs_confirmation() -> None:
    with pytest.raises(CommandError, match="--yes"):
        call_command("seed_synthetic_embeddings")
