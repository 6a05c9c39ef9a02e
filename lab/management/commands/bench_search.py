"""``python manage.py bench_search [--queries 200] [--photos 40] [--seed 0]
[--images-per-product N [--rows R] [--real]]``

kNN per query (index full and PCA against the numpy bound and sklearn), find-similar and
photo-search latency through the real views in this process, and index memory
(``lab.bench_search``). With ``--images-per-product N``: instead, the index's memory and photo
search's ranking with N images per product against one, synthesised (``lab.bench_images``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import bench_search as bench
from lab.bench_images import images_benchmark, images_lines
from lab.errors import BenchmarkFailed
from visualsearch.conf import vs_settings


class Command(BaseCommand):
    help = "kNN, request and photo-search latency of visual search, and the index's memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queries", type=int, default=200, help="kNN queries and find-similar requests.")
        parser.add_argument("--photos", type=int, default=40, help="Photo searches (each runs the model).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--images-per-product",
            type=int,
            default=0,
            help="Measure N images per product (synthesised) against one, instead of the rest.",
        )
        parser.add_argument(
            "--rows", type=int, default=bench.SYNTHETIC_ROWS, help="Products, with --images-per-product."
        )
        parser.add_argument(
            "--real",
            action="store_true",
            help="With --images-per-product: the catalogue's own stored vectors (and a fitted PCA) as the one "
            "image per product, instead of synthetic ones.",
        )

    def handle(self, *args: object, queries: int, photos: int, seed: int, **options: object) -> None:
        if queries < 5 or photos < 3:
            raise CommandError("Use at least 5 queries and 3 photos.")
        dims = int(vs_settings.INDEX_DIMS)
        per_product, rows = int(options["images_per_product"]), int(options["rows"])  # type: ignore[call-overload]
        if per_product:
            if per_product < 2 or rows < queries:
                raise CommandError("Use --images-per-product 2 or more, and at least as many --rows as --queries.")
            try:
                report = images_benchmark(rows, per_product, queries, seed, dims or 256, real=bool(options["real"]))
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.print(*images_lines(report))
            return
        ids = bench.embedded_ids()
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
