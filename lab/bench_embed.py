"""Embedding throughput on real catalogue images: the bare model against the real pipeline,
and whether a second worker process is worth its memory.

(a) bare: images already decoded in memory, ``embedder.embed_batch`` after a warm-up batch;
(b) end to end: throwaway products (inactive, never shown) with their images in storage,
    then ``embeddings_compute(ids, force=True)``: storage read → decode → batch → embed →
    database write. The share of its time spent inside ``embed_batch`` is read from a
    profile of the run (``cProfile``): the rest is the pipeline's own overhead, whatever
    else the machine is doing.

(a) and (b) alternate for a few rounds. On a shared machine each figure says how much of
the CPUs other processes used meanwhile (``others``); the fastest round in which the
machine stayed otherwise idle is reported (else the best of each).
"""

from __future__ import annotations

import cProfile
import json
import operator
import os
import pstats
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from lab.errors import BenchmarkFailed
from shop.models import Product
from visualsearch.ml.preprocessing import bytes_to_model_input

TARGET_RATIO = 0.9
# A second worker process must add at least this much throughput (more than runs vary by here).
MIN_GAIN = 0.15
# Other processes using more of the CPUs than this during a measurement make it unreliable.
BUSY_SHARE = 0.1
BUSY_WARNING = (
    "Other processes were using the CPUs during the measurement: the figures are low; rerun on an idle machine."
)
CHILD_READY = "ready"
# The workers docs/deploy.md and docker-compose run: embeddings, and photo searches on their own.
EMBEDDING_WORKER = "celery -A config worker -Q celery --concurrency {n}"
QUERY_WORKER = "celery -A config worker -Q query --pool solo"
_ATTRS = {
    "gender": "Unisex",
    "master_category": "Benchmark",
    "sub_category": "Benchmark",
    "article_type": "Benchmark",
}


def catalogue_dir() -> Path:
    return Path(os.environ.get("CATALOGUE_DIR", settings.BASE_DIR.parent / "shared" / "datasets" / "fashion-small"))


def catalogue_images(n: int, folder: Path | None = None) -> list[tuple[str, bytes]]:
    """The first n catalogue images (by id order), as (id, bytes)."""
    images_dir = (folder or catalogue_dir()) / "images"
    if not images_dir.is_dir():
        raise BenchmarkFailed(
            f"No catalogue images at {images_dir}: set CATALOGUE_DIR to a Fashion Product Images folder."
        )
    paths = sorted(images_dir.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)[:n]
    if len(paths) < n:
        raise BenchmarkFailed(f"Only {len(paths)} images in {images_dir}, {n} asked for.")
    return [(p.stem, p.read_bytes()) for p in paths]


def decode(images: list[tuple[str, bytes]]) -> tuple[np.ndarray, float]:
    """The model inputs of these images, and how many images/s one thread decoded."""
    started = time.perf_counter()
    pixels = np.stack([bytes_to_model_input(data) for _id, data in images])
    return pixels, len(images) / (time.perf_counter() - started)


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


def seconds_inside(function: Callable, call: Callable[[], object]) -> tuple[object, float]:
    """``call()``'s result and the seconds spent inside ``function`` meanwhile (in this
    thread), from a profile of the call."""
    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    code = function.__code__
    entry = pstats.Stats(profiler).stats.get((code.co_filename, code.co_firstlineno, code.co_name))  # type: ignore[attr-defined]
    return result, float(entry[3]) if entry else 0.0  # cumulative time


def end_to_end(ids: list[int]) -> float:
    """Embed these products through the pipeline (forced); returns the seconds the model took."""
    from visualsearch.ml import embedder
    from visualsearch.services.embeddings import embeddings_compute

    result, model = seconds_inside(embedder.embed_batch, lambda: embeddings_compute(ids, force=True))
    if result.done != len(ids):  # type: ignore[attr-defined]
        raise BenchmarkFailed(f"only {result.done} of {len(ids)} embedded ({result.failed} failed)")  # type: ignore[attr-defined]
    return model


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


@dataclass
class EmbedReport:
    bare: Timed
    e2e: Timed

    @property
    def ratio(self) -> float:
        return self.e2e.images_per_second / self.bare.images_per_second

    @property
    def disturbed(self) -> bool:
        return max(self.bare.others, self.e2e.others) > BUSY_SHARE


def bench_rounds(
    images: list[tuple[str, bytes]],
    pixels: np.ndarray,
    batch: int,
    rounds: int,
    on_round: Callable[[int, Timed, Timed], None] = lambda number, bare, e2e: None,
) -> EmbedReport:
    """Alternate the bare model and the pipeline on these images for ``rounds`` rounds (model
    already warm); the reported round per ``reported_round``."""
    bare: list[Timed] = []
    e2e: list[Timed] = []
    n = len(images)
    with ThrowawayProducts(images) as ids:
        for number in range(1, rounds + 1):
            bare.append(timed(n, lambda: embed_timed(pixels, batch)))
            e2e.append(timed(n, lambda: end_to_end(ids)))
            on_round(number, bare[-1], e2e[-1])
    return EmbedReport(*reported_round(bare, e2e))


# --- worker concurrency ---------------------------------------------------------------


@dataclass
class ProcessRun:
    label: str
    processes: int
    images_per_second: float
    peak_mib: float
    others: float


def child_command(n: int, batch: int) -> list[str]:
    """The command line of one ``child_run`` process."""
    manage = str(settings.BASE_DIR / "manage.py")
    return [sys.executable, manage, "bench_embed", "--child", "--n", str(n), "--batch", str(batch)]


def run_processes(
    label: str, count: int, n: int, batch: int, extra_env: dict[str, str], command: list[str] | None = None
) -> ProcessRun:
    """``count`` processes (``child_run`` each) embedding n images at the same time: total images/s."""
    env = {**os.environ, "LOOKALIKE_LAB": "1", **extra_env}  # the lab's command in any settings
    argv = command or child_command(n, batch)
    children = [
        subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(count)
    ]
    try:
        for child in children:  # model loaded and warm in every process
            if child.stdout.readline().strip() != CHILD_READY:  # type: ignore[union-attr]
                raise BenchmarkFailed("a benchmark child process failed to start")
        wall, busy = time.perf_counter(), cpu_busy_seconds()
        for child in children:
            child.stdin.write("go\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
        results = [json.loads(child.stdout.readline()) for child in children]  # type: ignore[union-attr]
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


def peak_rss_mib() -> float:
    """This process's peak resident memory. /proc's VmHWM where there is one: Linux carries
    ``ru_maxrss`` over from the parent across fork and exec, so a child started by a process
    that held the model would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_run(n: int, batch: int, stdin: IO[str], stdout: IO[str]) -> None:
    """One process of the concurrency measurement: warm up, say "ready", wait for a line,
    embed n images, write one JSON line (images, seconds, cpu, peak_mib)."""
    from visualsearch.ml import embedder

    pixels, _rate = decode(catalogue_images(n))
    embedder.warm_up()
    embed_timed(pixels[:batch], batch)
    print(CHILD_READY, file=stdout, flush=True)
    stdin.readline()
    cpu = time.process_time()
    seconds = embed_timed(pixels, batch)
    cpu = time.process_time() - cpu
    peak_mib = peak_rss_mib()
    figures = {"images": len(pixels), "seconds": seconds, "cpu": cpu, "peak_mib": peak_mib}
    print(json.dumps(figures), file=stdout, flush=True)


def concurrency_runs(n: int, batch: int) -> list[ProcessRun]:
    """1 process, 2 processes, 2 single-threaded processes embedding at the same time."""
    per_child = max(batch * 2, n // 2)
    one_thread = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    return [
        run_processes("1 process (TF on all cores)", 1, per_child, batch, {}),
        run_processes("2 processes (TF on all cores each)", 2, per_child, batch, {}),
        run_processes("2 processes (1 TF thread each)", 2, per_child, batch, one_thread),
    ]


def recommendation(runs: list[ProcessRun]) -> str:
    """Worker concurrency advice from the measured runs: a second process must earn its memory.
    Photo searches always have their own solo query worker (docs/deploy.md, docker-compose)."""
    single = runs[0]
    query = f"; photo searches keep their own solo worker (`{QUERY_WORKER}`)"
    if max(run.others for run in runs) > BUSY_SHARE:
        return (
            f"Recommended embedding worker concurrency: 1, the default (`{EMBEDDING_WORKER.format(n=1)}`){query}: "
            "the machine was too busy for these figures to say otherwise; rerun bench_embed on an idle machine "
            "to compare."
        )
    best = max(runs, key=lambda run: run.images_per_second)
    gain = best.images_per_second / single.images_per_second - 1
    if best.processes == 1 or gain < MIN_GAIN:
        return (
            f"Recommended embedding worker concurrency on this {os.cpu_count()}-core machine: 1 "
            f"(`{EMBEDDING_WORKER.format(n=1)}`){query}. TensorFlow already spreads one batch over every core: "
            f"a second process adds {100 * gain:+.0f}% at best (less than the {100 * MIN_GAIN:.0f}% worth it) for "
            f"a second model in memory (~{single.peak_mib:.0f} MiB), and each batch then takes about twice as long."
        )
    threads = " and TF_NUM_INTRAOP_THREADS=1 in the worker's environment" if "1 TF thread" in best.label else ""
    return (
        f"Recommended embedding worker concurrency: {best.processes} (`{EMBEDDING_WORKER.format(n=best.processes)}`"
        f"{threads}){query} ({best.label}: {best.images_per_second:.1f} vs {single.images_per_second:.1f} "
        f"images/s, {100 * gain:+.0f}%), at the cost of one model in memory per process (~{best.peak_mib:.0f} MiB "
        "each)."
    )


# --- output ---------------------------------------------------------------------------

# (style, text): the style is one of Django's command styles ("SUCCESS", "ERROR", "WARNING") or "".
Line: TypeAlias = tuple[str, str]


def report_lines(report: EmbedReport, database: str) -> list[Line]:
    style, verdict = ("SUCCESS", "OK") if report.ratio >= TARGET_RATIO else ("ERROR", "BELOW TARGET")
    lines: list[Line] = [
        ("SUCCESS", f"(a) bare model (embed_batch, decoded in memory): {report.bare}"),
        ("SUCCESS", f"(b) end to end (storage → decode → embed → {database}): {report.e2e}"),
        (style, f"ratio e2e/bare: {report.ratio:.2f} (target ≥ {TARGET_RATIO}) {verdict}"),
    ]
    busy = report.e2e.model_busy
    if busy is not None:
        lines.append(
            (
                "",
                f"in the e2e run the model was busy {busy:.1%} of the time; the other {1 - busy:.1%} is pipeline "
                "overhead (reads and decoding not hidden behind the model, database writes)",
            )
        )
    if report.disturbed:
        lines.append(("WARNING", BUSY_WARNING))
    return lines


def concurrency_lines(runs: list[ProcessRun]) -> list[Line]:
    lines: list[Line] = [("", "worker concurrency (model alone, processes embedding at the same time):")]
    for run in runs:
        others = f" (others used {run.others:.0%})" if run.others else ""
        rate = f"{run.images_per_second:.1f} images/s in all"
        lines.append(("", f"  {run.label}: {rate}, ~{run.peak_mib:.0f} MiB per process{others}"))
    if max(run.others for run in runs) > BUSY_SHARE:
        lines.append(("WARNING", BUSY_WARNING))
    return [*lines, ("SUCCESS", recommendation(runs))]
