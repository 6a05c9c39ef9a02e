"""``python manage.py bench_embed [--n 256] [--batch 32] [--rounds 3] [--no-processes]``

Measures, on N real catalogue images, in one run:

(a) the bare model: images already decoded in memory, ``embedder.embed_batch`` after a
    warm-up batch;
(b) the real pipeline: throwaway products (inactive, never shown) with their images in
    storage, then ``services.embeddings_compute(ids, force=True)``: storage read → decode →
    batch → embed → write to the database;

and prints both, the ratio e2e/bare, and a worker concurrency recommendation from 1 vs 2
concurrent embedding processes. The throwaway products, their embeddings and their files
are deleted at the end, whatever happens; existing products are never touched.

(a) and (b) alternate for --rounds rounds. On a shared machine every figure says how much
of the CPUs other processes used meanwhile; the fastest round in which the machine stayed
otherwise idle is reported (else the best of each). The e2e run also reports the share of
its time the model was busy: the rest is the pipeline's own overhead, whatever the load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import operator
import os
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from shop.models import Product
from visualsearch import services
from visualsearch.ml.preprocessing import bytes_to_model_input

TARGET_RATIO = 0.9
# A second worker process must add at least this much throughput (measurements here vary ±10%).
MIN_GAIN = 0.15
# Other processes using more of the CPUs than this during a measurement make it unreliable.
BUSY_SHARE = 0.1
BUSY_WARNING = (
    "Other processes were using the CPUs during the measurement: the figures are low; rerun on an idle machine."
)
CHILD_READY = "ready"
_ATTRS = {
    "gender": "Unisex",
    "master_category": "Benchmark",
    "sub_category": "Benchmark",
    "article_type": "Benchmark",
}


def catalogue_dir() -> Path:
    return Path(os.environ.get("CATALOG_DIR", settings.BASE_DIR.parent / "shared" / "datasets" / "fashion-small"))


def catalogue_images(n: int) -> list[tuple[str, bytes]]:
    """The first n catalogue images (by id order), as (id, bytes)."""
    images_dir = catalogue_dir() / "images"
    if not images_dir.is_dir():
        raise CommandError(f"No catalogue images at {images_dir}: set CATALOG_DIR to a Fashion Product Images folder.")
    paths = sorted(images_dir.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)[:n]
    if len(paths) < n:
        raise CommandError(f"Only {len(paths)} images in {images_dir}, {n} asked for.")
    return [(p.stem, p.read_bytes()) for p in paths]


def embed_timed(pixels: np.ndarray, batch: int) -> float:
    """Seconds ``embed_batch`` takes over these images, batch by batch (model already warm)."""
    from visualsearch.ml import embedder

    started = time.perf_counter()
    for start in range(0, len(pixels), batch):
        embedder.embed_batch(pixels[start : start + batch])
    return time.perf_counter() - started


def cpu_busy_seconds() -> float:
    """CPU seconds every process on the machine has used so far (Linux /proc/stat; 0 elsewhere)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def others_share(wall: float, busy: float, ours: float) -> float:
    """The share of all CPUs that other processes used during ``wall`` seconds."""
    return min(max(busy - ours, 0.0) / (wall * (os.cpu_count() or 1)), 1.0) if wall > 0 else 0.0


@dataclass
class Timed:
    images_per_second: float
    others: float  # share of the CPUs other processes used meanwhile: they slow the figure down
    model_busy: float | None = None  # share of the time spent inside the model, when measured

    def __str__(self) -> str:
        return f"{self.images_per_second:.1f} images/s" + (f" (others used {self.others:.0%})" if self.others else "")


def timed(images: int, work: Callable[[], float | None]) -> Timed:
    """Throughput of ``work`` over ``images`` images, with how busy the rest of the machine was
    (``work`` may return the seconds it spent in the model)."""
    wall, busy, ours = time.perf_counter(), cpu_busy_seconds(), time.process_time()
    model = work()
    wall, busy, ours = time.perf_counter() - wall, cpu_busy_seconds() - busy, time.process_time() - ours
    return Timed(images / wall, others_share(wall, busy, ours), model / wall if model is not None else None)


def reported_round(bare: list[Timed], e2e: list[Timed]) -> tuple[Timed, Timed]:
    """The figures to report: the fastest round in which the rest of the machine stayed idle
    during both measurements, else (all rounds disturbed) the best of each."""
    quiet = [(b, e) for b, e in zip(bare, e2e, strict=True) if max(b.others, e.others) <= BUSY_SHARE]
    if quiet:
        return max(quiet, key=lambda pair: pair[1].images_per_second)
    fastest = operator.attrgetter("images_per_second")
    return max(bare, key=fastest), max(e2e, key=fastest)


@contextlib.contextmanager
def model_seconds() -> Iterator[list[float]]:
    """Seconds spent inside ``embedder.embed_batch`` while the block runs: the pipeline's
    overhead is the rest, whatever else the machine is doing."""
    from visualsearch.ml import embedder

    spent = [0.0]
    original = embedder.embed_batch

    def counting(images: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return original(images)
        finally:
            spent[0] += time.perf_counter() - started

    embedder.embed_batch = counting
    try:
        yield spent
    finally:
        embedder.embed_batch = original


@dataclass
class ProcessRun:
    label: str
    processes: int
    images_per_second: float
    peak_mib: float
    others: float


class ThrowawayProducts:
    """Inactive products with these images in storage, deleted with their embeddings and files on exit.

    bulk_create sends no save signals (nothing is queued), and inactive products never reach
    the shop or the search indexes."""

    def __init__(self, images: list[tuple[str, bytes]]) -> None:
        self.images = images
        self.token = secrets.token_hex(4)
        self.names: list[str] = []
        self.ids: list[int] = []

    def __enter__(self) -> list[int]:
        try:
            for external_id, data in self.images:
                name = f"products/_bench_embed_{self.token}_{external_id}.jpg"
                self.names.append(default_storage.save(name, ContentFile(data)))
            products = Product.objects.bulk_create(
                [
                    Product(name=f"bench_embed {self.token}", is_active=False, image=name, **_ATTRS)
                    for name in self.names
                ]
            )
        except BaseException:
            self.__exit__()
            raise
        self.ids = [p.pk for p in products]
        return self.ids

    def __exit__(self, *exc_info: object) -> None:
        Product.objects.filter(pk__in=self.ids).delete()  # their embeddings go with them (cascade)
        for name in self.names:
            default_storage.delete(name)


class Command(BaseCommand):
    help = (
        "Benchmark the embedding model alone and the full pipeline (storage → decode → embed → database) "
        "on real catalogue images; prints images/s, the e2e/bare ratio and a worker concurrency advice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, default=256, help="Images to embed (default 256)")
        parser.add_argument("--batch", type=int, default=32, help="Model batch size (default 32)")
        parser.add_argument("--rounds", type=int, default=3, help="Alternate bare/e2e rounds; the best counts")
        parser.add_argument(
            "--no-processes", action="store_true", help="Skip the 1 vs 2 concurrent processes measurement"
        )
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    def handle(
        self, *args: Any, n: int, batch: int, rounds: int, no_processes: bool, child: bool, **options: Any
    ) -> None:
        if n < 1 or batch < 1 or rounds < 1:
            raise CommandError("--n, --batch and --rounds must be positive")
        with override_settings(VISUALSEARCH_BATCH_SIZE=batch):
            if child:
                self._child(n, batch)
                return
            self._bench(n, batch, rounds, no_processes)

    def _bench(self, n: int, batch: int, rounds: int, no_processes: bool) -> None:
        from visualsearch.ml import embedder

        images = catalogue_images(n)
        self.stdout.write(f"{n} catalogue images from {catalogue_dir()}, batch {batch}, {os.cpu_count()} CPU(s)")
        started = time.perf_counter()
        embedder.warm_up()
        self.stdout.write(f"model loaded in {time.perf_counter() - started:.1f} s")
        pixels = self._decode(images)
        embed_timed(pixels[:batch], batch)  # warm-up batch at the measured size
        bare: list[Timed] = []
        e2e: list[Timed] = []
        with ThrowawayProducts(images) as ids:
            for number in range(1, rounds + 1):
                bare.append(timed(n, lambda: embed_timed(pixels, batch)))
                e2e.append(timed(n, lambda: self._end_to_end(ids)))
                self.stdout.write(f"round {number}: bare {bare[-1]}, e2e {e2e[-1]}")
        self._report(*reported_round(bare, e2e))
        if not no_processes:
            self._concurrency(n, batch)

    def _decode(self, images: list[tuple[str, bytes]]) -> np.ndarray:
        started = time.perf_counter()
        pixels = np.stack([bytes_to_model_input(data) for _id, data in images])
        self.stdout.write(f"decode only (1 thread): {len(images) / (time.perf_counter() - started):.0f} images/s")
        return pixels

    def _end_to_end(self, ids: list[int]) -> float:
        with model_seconds() as spent:
            result = services.embeddings_compute(ids, force=True)
        if result.done != len(ids):
            raise CommandError(f"only {result.done} of {len(ids)} embedded ({result.failed} failed)")
        return spent[0]

    def _report(self, bare: Timed, e2e: Timed) -> None:
        from django.db import connection

        ratio = e2e.images_per_second / bare.images_per_second
        verdict = self.style.SUCCESS("OK") if ratio >= TARGET_RATIO else self.style.ERROR("BELOW TARGET")
        self.stdout.write(self.style.SUCCESS(f"(a) bare model (embed_batch, decoded in memory): {bare}"))
        self.stdout.write(self.style.SUCCESS(f"(b) end to end (storage → decode → embed → {connection.vendor}): {e2e}"))
        self.stdout.write(f"ratio e2e/bare: {ratio:.2f} (target ≥ {TARGET_RATIO}) {verdict}")
        if e2e.model_busy is not None:
            self.stdout.write(
                f"in the e2e run the model was busy {e2e.model_busy:.1%} of the time; the other "
                f"{1 - e2e.model_busy:.1%} is pipeline overhead (reads and decoding not hidden behind the model, "
                "database writes)"
            )
        if max(bare.others, e2e.others) > BUSY_SHARE:
            self.stdout.write(self.style.WARNING(BUSY_WARNING))

    # --- worker concurrency -----------------------------------------------------------------

    def _concurrency(self, n: int, batch: int) -> None:
        per_child = max(batch * 2, n // 2)
        one_thread = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
        runs = [
            self._processes("1 process (TF on all cores)", 1, per_child, batch, {}),
            self._processes("2 processes (TF on all cores each)", 2, per_child, batch, {}),
            self._processes("2 processes (1 TF thread each)", 2, per_child, batch, one_thread),
        ]
        self.stdout.write("worker concurrency (model alone, processes embedding at the same time):")
        for run in runs:
            busy = f" (others used {run.others:.0%})" if run.others else ""
            self.stdout.write(
                f"  {run.label}: {run.images_per_second:.1f} images/s in all, ~{run.peak_mib:.0f} MiB per process{busy}"
            )
        if max(run.others for run in runs) > BUSY_SHARE:
            self.stdout.write(self.style.WARNING(BUSY_WARNING))
        self.stdout.write(self.style.SUCCESS(recommendation(runs)))

    def _processes(self, label: str, count: int, n: int, batch: int, extra_env: dict[str, str]) -> ProcessRun:
        """``count`` processes embedding n images each at the same time: total images/s."""
        env = {**os.environ, **extra_env}
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "bench_embed", "--child"]
        command += ["--n", str(n), "--batch", str(batch)]
        children = [
            subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        try:
            for child in children:  # model loaded and warm in every process
                if child.stdout.readline().strip() != CHILD_READY:
                    raise CommandError("a benchmark child process failed to start")
            wall, busy = time.perf_counter(), cpu_busy_seconds()
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            results = [json.loads(child.stdout.readline()) for child in children]
            wall, busy = time.perf_counter() - wall, cpu_busy_seconds() - busy
            for child in children:
                child.wait(timeout=60)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        rate = sum(r["images"] for r in results) / max(r["seconds"] for r in results)
        others = others_share(wall, busy, sum(r["cpu"] for r in results))
        return ProcessRun(label, count, rate, max(r["peak_mib"] for r in results), others)

    def _child(self, n: int, batch: int) -> None:
        """Child of the concurrency measurement: warm up, wait for "go", embed, report."""
        from visualsearch.ml import embedder

        pixels = np.stack([bytes_to_model_input(data) for _id, data in catalogue_images(n)])
        embedder.warm_up()
        embed_timed(pixels[:batch], batch)
        print(CHILD_READY, flush=True)
        sys.stdin.readline()
        cpu = time.process_time()
        seconds = embed_timed(pixels, batch)
        cpu = time.process_time() - cpu
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps({"images": len(pixels), "seconds": seconds, "cpu": cpu, "peak_mib": peak_mib}), flush=True)


def recommendation(runs: list[ProcessRun]) -> str:
    """Worker concurrency advice from the measured runs: a second process must earn its memory."""
    single = runs[0]
    if max(run.others for run in runs) > BUSY_SHARE:
        return (
            "Recommended worker concurrency: 1, the default (`-c 1`): the machine was too busy for these figures "
            "to say otherwise; rerun bench_embed on an idle machine to compare."
        )
    best = max(runs, key=lambda run: run.images_per_second)
    gain = best.images_per_second / single.images_per_second - 1
    if best.processes == 1 or gain < MIN_GAIN:
        return (
            f"Recommended worker concurrency on this {os.cpu_count()}-core machine: 1 (`celery -A config worker "
            "-Q celery,query -c 1`). TensorFlow already spreads one batch over every core: a second process "
            f"adds {100 * gain:+.0f}% at best (less than the {100 * MIN_GAIN:.0f}% worth it) for a second model in "
            f"memory (~{single.peak_mib:.0f} MiB), and each batch, photo searches included, then takes about "
            "twice as long."
        )
    threads = " and TF_NUM_INTRAOP_THREADS=1 in the worker's environment" if "1 TF thread" in best.label else ""
    return (
        f"Recommended worker concurrency: {best.processes}{threads} ({best.label}: "
        f"{best.images_per_second:.1f} vs {single.images_per_second:.1f} images/s, {100 * gain:+.0f}%), "
        f"at the cost of one model in memory per process (~{best.peak_mib:.0f} MiB each)."
    )
