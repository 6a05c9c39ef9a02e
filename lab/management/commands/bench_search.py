"""``python manage.py bench_search [--queries 200] [--photos 40] [--seed 0]``

kNN per query (index full and PCA against the numpy bound and sklearn), find-similar and
photo-search latency through the real views in this process, and index memory
(``lab.bench_search``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import bench_search as bench
from lab.errors import BenchmarkFailed
from visualsearch.conf import vs_settings


class Command(BaseCommand):
    help = "kNN, request and photo-search latency of visual search, and the index's memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queries", type=int, default=200, help="kNN queries and find-similar requests.")
        parser.add_argument("--photos", type=int, default=40, help="Photo searches (each runs the model).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, queries: int, photos: int, seed: int, **options: object) -> None:
        if queries < 5 or photos < 3:
            raise CommandError("Use at least 5 queries and 3 photos.")
        ids, dims = bench.embedded_ids(), int(vs_settings.INDEX_DIMS)
        self.print(
            f"# {len(ids)} products embedded ({bench.synthetic_count(ids)} of them synthetic vectors from "
            f"seed_synthetic_embeddings); VISUALSEARCH_INDEX_DIMS={dims}",
            *bench.knn_lines(bench.knn_benchmark(ids, queries, seed, dims)),
        )
        if len(ids) <= bench.K:
            self.print("# too few embedded products for the request benchmarks: skipped")
            return
        try:
            self.print(*bench.request_lines(bench.request_benchmark(ids, queries, seed)))
            self.print(*bench.photo_lines(bench.photo_benchmark(ids, photos, seed)))
        except BenchmarkFailed as exc:
            raise CommandError(str(exc)) from None

    def print(self, *lines: str) -> None:
        for line in lines:
            self.stdout.write(line)
