"""``python manage.py bench_embed [--n 256] [--batch 32] [--rounds 3] [--no-processes] [--engines]``

The bare model against the real embedding pipeline on N real catalogue images, their ratio,
and a worker concurrency advice from 1 vs 2 concurrent processes
(``lab.bench_embed``). Existing products are never touched. ``--engines``: the inference
engines side by side instead, and the worker layout (processes × threads) for this CPU
(``lab.bench_engines``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings

from lab import bench_embed as bench
from lab.errors import BenchmarkFailed


class Command(BaseCommand):
    help = (
        "Benchmark the embedding model alone and the full pipeline (storage → decode → embed → database) "
        "on real catalogue images; prints images/s, the e2e/bare ratio and a worker concurrency advice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, default=256, help="Images to embed (default 256)")
        parser.add_argument("--batch", type=int, default=32, help="Model batch size (default 32)")
        parser.add_argument("--rounds", type=int, default=3, help="Alternate bare/e2e rounds; the best counts")
        parser.add_argument("--no-processes", action="store_true", help="Skip the 1 vs 2 processes measurement")
        parser.add_argument(
            "--engines",
            action="store_true",
            help="Compare the inference engines (TensorFlow, ONNX Runtime) and recommend the worker layout",
        )
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    def handle(
        self, *args: Any, n: int, batch: int, rounds: int, no_processes: bool, engines: bool, child: bool, **o: Any
    ) -> None:
        if n < 1 or batch < 1 or rounds < 1:
            raise CommandError("--n, --batch and --rounds must be positive")
        try:
            with override_settings(VISUALSEARCH_BATCH_SIZE=batch):  # the pipeline's batches too
                if child:
                    bench.child_run(n, batch, sys.stdin, sys.stdout)
                elif engines:
                    self.bench_engines(n, batch, rounds, no_processes)
                else:
                    self.bench(n, batch, rounds, no_processes)
        except BenchmarkFailed as exc:
            raise CommandError(str(exc)) from None

    def bench(self, n: int, batch: int, rounds: int, no_processes: bool) -> None:
        from visualsearch.ml import embedder

        images = bench.catalogue_images(n)
        self.print(("", f"{n} catalogue images from {bench.catalogue_dir()}, batch {batch}, {os.cpu_count()} CPU(s)"))
        started = time.perf_counter()
        embedder.warm_up()
        self.print(("", f"model loaded in {time.perf_counter() - started:.1f} s"))
        pixels, decode_rate = bench.decode(images)
        self.print(("", f"decode only (1 thread): {decode_rate:.0f} images/s"))
        bench.embed_timed(pixels[:batch], batch)  # warm-up batch at the measured size
        report = bench.bench_rounds(
            images, pixels, batch, rounds, lambda i, bare, e2e: self.print(("", f"round {i}: bare {bare}, e2e {e2e}"))
        )
        self.print(*bench.report_lines(report, connection.vendor))
        if not no_processes:
            self.print(*bench.concurrency_lines(bench.concurrency_runs(n, batch)))

    def bench_engines(self, n: int, batch: int, rounds: int, no_processes: bool) -> None:
        from lab import bench_engines

        pixels, _rate = bench.decode(bench.catalogue_images(n))
        self.print(("", f"{n} catalogue images from {bench.catalogue_dir()}, batch {batch}, {os.cpu_count()} CPU(s)"))
        comparison = bench_engines.engines_compare(pixels, batch, rounds)
        self.print(*bench_engines.engine_lines(comparison))
        if not no_processes:
            runs = bench_engines.layouts_compare(comparison.default, n, batch)
            self.print(*bench_engines.layout_lines(comparison.default, runs))

    def print(self, *lines: tuple[str, str]) -> None:
        for style, text in lines:
            self.stdout.write(getattr(self.style, style)(text) if style else text)
