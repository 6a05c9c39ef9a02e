"""python manage.py seed_synthetic_embeddings --yes

For load tests and benchmarks only: gives every active product that has no embedding a
random unit vector (marked with source_checksum "synthetic"), so the whole 43k catalogue can
be searched without the ~50 minutes a real reindex takes here. `reindex --all` replaces them.
"""

from __future__ import annotations

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from shop.models import Product
from visualsearch.ml.embedder import EMBEDDING_DIM, MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services import chunked, index_changes_record

SYNTHETIC = "synthetic"


class Command(BaseCommand):
    help = "Load tests only: random unit embeddings for products without one (replace with reindex --all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--yes", action="store_true", help="Confirm: this database is for load tests")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, yes: bool, seed: int, **options: object) -> None:
        if not yes:
            raise CommandError(
                "This writes fake embeddings into the database. Re-run with --yes on a load-test database."
            )
        ids = list(
            Product.objects.filter(is_active=True, embedding__isnull=True).order_by("pk").values_list("pk", flat=True)
        )
        rng = np.random.default_rng(seed)
        now = timezone.now()
        for chunk in tqdm(chunked(ids, 2000), desc="Synthetic embeddings", unit="batch"):
            vectors = rng.standard_normal((len(chunk), EMBEDDING_DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ProductEmbedding.objects.bulk_create(
                [
                    ProductEmbedding(
                        product_id=pid,
                        vector=vector.astype("<f4").tobytes(),
                        status=EmbeddingStatus.DONE,
                        model_version=MODEL_VERSION,
                        source_checksum=SYNTHETIC,
                        computed_at=now,
                    )
                    for pid, vector in zip(chunk, vectors, strict=True)
                ],
                ignore_conflicts=True,
            )
            index_changes_record(chunk)
        self.stdout.write(self.style.SUCCESS(f"{len(ids)} synthetic embeddings written."))
