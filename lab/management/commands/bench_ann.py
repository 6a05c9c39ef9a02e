"""``python manage.py bench_ann --rows 43000 250000 1000000 [--queries 200] [--workers 4]``

The FAISS index on synthetic catalogues of N products made from the cached real embeddings
(mixtures around real vectors, no images): recall@5 after the exact re-rank against the
exact full-vector search, filtered recall, find-similar index-step latency, build time and
size, and worker cold start and memory (``lab.bench_ann``). Needs no
database. ``--worker`` is the child process it starts (one simulated gunicorn worker).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "FAISS index benchmark on synthetic catalogues made from the real embeddings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, nargs="+", default=[43_000, 250_000], help="Catalogue sizes.")
        parser.add_argument("--synthetic", type=int, nargs="+", dest="rows", help="Same as --rows.")
        parser.add_argument("--queries", type=int, default=200)
        parser.add_argument("--workers", type=int, default=4, help="Worker processes mapping the artifact.")
        parser.add_argument("--factory", default="IVF{nlist},SQ8", help="FAISS index factory string.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--nprobe", type=int, nargs="*", default=[], help="Also measure FAISS with these probe counts."
        )
        parser.add_argument("--workdir", default="", help="Where the artifacts go (default: a temporary folder).")
        parser.add_argument("--vectors", default="", help="The cached real embeddings (.npz with ids, vectors).")
        parser.add_argument("--worker", default="", help="(internal) run as one worker over this artifact folder.")
        parser.add_argument("--started", type=float, default=0.0, help="(internal) the worker's start time.")

    def handle(
        self,
        *args: object,
        rows: list[int],
        queries: int,
        workers: int,
        factory: str,
        seed: int,
        nprobe: list[int],
        workdir: str,
        vectors: str,
        worker: str,
        started: float,
        **options: object,
    ) -> None:
        from lab import bench_ann

        if worker:
            self.stdout.write(json.dumps(bench_ann.worker(Path(worker), queries, started)))
            return
        vectors_path = Path(vectors) if vectors else bench_ann.default_vectors_path()
        if not vectors_path.exists():
            raise CommandError(f"no cached embeddings at {vectors_path}")
        reports = []
        for count in rows:
            report = bench_ann.run(
                count,
                queries=queries,
                workers=workers,
                factory=factory,
                seed=seed,
                workdir=Path(workdir) if workdir else None,
                nprobes=tuple(nprobe),
                vectors_path=vectors_path,
                log=self.stderr.write,
            )
            reports.append(report)
            self.stdout.write("\n".join(report.lines()))
        self.stdout.write(bench_ann.TABLE_HEADER)
        for report in reports:
            self.stdout.write(report.row())
