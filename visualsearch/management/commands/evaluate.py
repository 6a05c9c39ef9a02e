"""``python manage.py evaluate [--sample 4000] [--seed 0] [--dims 256] [--no-rerank]``

Precision of "find similar" on a sample of the labelled catalogue (see
``visualsearch.evaluation.relevance``). ``--dims 0`` evaluates the full 2048-dim vectors;
without a stored PCA projection one is fitted in memory for the evaluation only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from visualsearch.conf import vs_settings
from visualsearch.evaluation import relevance


class Command(BaseCommand):
    help = "Precision of 'find similar' (P@5/P@1 by article type, sub category, colour) on a sample."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=4000, help="Products to query (all when larger).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random sample.")
        parser.add_argument("--dims", type=int, help="PCA dimensions (0: full 2048). Default: VISUALSEARCH_INDEX_DIMS.")
        parser.add_argument("--no-rerank", action="store_true", help="Rank by the projected vectors alone.")
        parser.add_argument("--worst", type=int, default=10, help="How many worst article types to list.")
        parser.add_argument("--min-queries", type=int, default=5, help="Fewer queries: left out of 'worst'.")

    def handle(self, *args: object, sample: int, seed: int, dims: int | None, no_rerank: bool, **options: int) -> None:
        if sample < 1:
            raise CommandError("--sample must be at least 1.")
        dims = int(vs_settings.INDEX_DIMS if dims is None else dims)
        rerank = 0 if no_rerank else int(vs_settings.RERANK_CANDIDATES)
        try:
            catalogue = relevance.load_catalogue()
            report = relevance.evaluate_relevance(
                catalogue, sample=sample, seed=seed, dims=dims, rerank_candidates=rerank
            )
        except relevance.TooFewProducts as exc:
            raise CommandError(str(exc)) from None
        for line in relevance.report_lines(
            report, dims=dims, seed=seed, worst=options["worst"], min_queries=options["min_queries"]
        ):
            self.stdout.write(line)
