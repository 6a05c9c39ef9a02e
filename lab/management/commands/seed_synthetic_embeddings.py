"""``python manage.py seed_synthetic_embeddings --yes [--seed 0]``

For load tests and benchmarks only: every active product without an embedding gets a random
unit vector, stored under its own model version (``lab.synthetic``), so
the whole catalogue can be searched (with VISUALSEARCH_INDEX_SYNTHETIC=1) without a real
reindex (its time: docs). ``reindex --missing`` replaces them.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from lab.synthetic import synthetic_embeddings_seed


class Command(BaseCommand):
    help = "Load tests only: random unit embeddings for products without one (replace with reindex --missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--yes", action="store_true", help="Confirm: this database is for load tests")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, yes: bool, seed: int, **options: object) -> None:
        if not yes:
            raise CommandError(
                "This writes fake embeddings into the database. Re-run with --yes on a load-test database."
            )
        with tqdm(desc="Synthetic embeddings", unit="product", disable=None) as bar:
            result = synthetic_embeddings_seed(seed=seed, on_chunk=bar.update)
        if result.relabelled:
            self.stdout.write(f"{result.relabelled} older synthetic embeddings moved to the synthetic model version.")
        self.stdout.write(self.style.SUCCESS(f"{result.written} synthetic embeddings written."))
