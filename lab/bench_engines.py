"""The inference engines side by side, and the worker layout they call for.

``engines_compare``: TensorFlow (the reference) and ONNX Runtime (when ``fetch_weights``' export
passed its check) in the same process on the same decoded catalogue images, the best of a few
rounds each: images/s, the ratio to TensorFlow and the minimum cosine between their vectors.
``layouts_compare``: the default engine in P processes × T threads (P × T = the cores) at the
same time, to recommend the embedding worker's layout for this CPU.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from lab.bench_embed import BUSY_SHARE, BUSY_WARNING, MIN_GAIN, Line, ProcessRun, cpu_busy_seconds, run_processes
from lab.bench_embed import others_share as _others_share
from visualsearch.ml import embedder
from visualsearch.ml.engines import choose_engine, onnxruntime_installed
from visualsearch.ml.engines.base import Engine
from visualsearch.ml.onnx_files import onnx_path, onnx_status
from visualsearch.ml.settings import current as ml_settings
from visualsearch.ml.weights import resolve_weights_path

EMBEDDING_WORKER = "celery -A config worker -Q celery --concurrency {processes}"


@dataclass(frozen=True)
class EngineFigure:
    name: str
    images_per_second: float
    min_cosine: float
    others: float  # share of the CPUs other processes used during its best round


@dataclass(frozen=True)
class EngineComparison:
    figures: list[EngineFigure]
    unavailable: dict[str, str]  # engine name -> why it was not measured
    default: str  # the engine VISUALSEARCH_ENGINE picks here


def _rate(engine: Engine, pixels: np.ndarray, batch: int, rounds: int) -> tuple[float, float]:
    """Best images/s over ``rounds`` passes of ``pixels`` (warm), with how busy others were then."""
    engine.embed(pixels[:batch])  # warm-up at the measured batch size
    best = (0.0, 0.0)
    for _ in range(rounds):
        wall, busy, ours = time.perf_counter(), cpu_busy_seconds(), time.process_time()
        for start in range(0, len(pixels), batch):
            engine.embed(pixels[start : start + batch])
        wall, busy, ours = time.perf_counter() - wall, cpu_busy_seconds() - busy, time.process_time() - ours
        rate = len(pixels) / wall
        if rate > best[0]:
            best = (rate, _others_share(wall, busy, ours))
    return best


def engines_compare(pixels: np.ndarray, batch: int, rounds: int) -> EngineComparison:
    """Both engines on the same images in this process (TensorFlow first: the reference)."""
    from visualsearch.ml.engines.tensorflow import TensorFlowEngine, load_full_model

    reference = TensorFlowEngine(load_full_model(resolve_weights_path()))
    theirs = embedder.l2_normalise(reference.embed(pixels))
    rate, others = _rate(reference, pixels, batch, rounds)
    figures = [EngineFigure("tensorflow", rate, 1.0, others)]
    unavailable: dict[str, str] = {}
    usable, reason = onnx_status()
    if not onnxruntime_installed():
        unavailable["onnx"] = "onnxruntime is not installed"
    elif not usable:
        unavailable["onnx"] = reason
    else:
        from visualsearch.ml.engines.onnx import OnnxEngine

        engine = OnnxEngine(onnx_path())
        cosine = float(np.sum(embedder.l2_normalise(engine.embed(pixels)) * theirs, axis=1).min())
        rate, others = _rate(engine, pixels, batch, rounds)
        figures.append(EngineFigure("onnx", rate, cosine, others))
    return EngineComparison(figures, unavailable, choose_engine(ml_settings()).name)


def engine_lines(comparison: EngineComparison) -> list[Line]:
    """``engine NAME: X images/s, R× tensorflow, min cosine C`` per engine, the default marked."""
    tensorflow = comparison.figures[0].images_per_second
    lines: list[Line] = []
    for figure in comparison.figures:
        mark = "  <- default (VISUALSEARCH_ENGINE=auto)" if figure.name == comparison.default else ""
        others = f" (others used {figure.others:.0%})" if figure.others else ""
        text = (
            f"engine {figure.name}: {figure.images_per_second:.1f} images/s, "
            f"{figure.images_per_second / tensorflow:.2f}× tensorflow, min cosine {figure.min_cosine:.6f}{others}{mark}"
        )
        lines.append(("SUCCESS", text))
    for name, reason in comparison.unavailable.items():
        lines.append(("WARNING", f"engine {name}: not measured: {reason}"))
    if max(figure.others for figure in comparison.figures) > BUSY_SHARE:
        lines.append(("WARNING", BUSY_WARNING))
    return lines


def layouts(cores: int) -> list[tuple[int, int]]:
    """(processes, threads) layouts filling the cores: 1 × cores, then more processes."""
    found = [(p, cores // p) for p in range(1, cores + 1) if cores % p == 0]
    return found[:1] + [layout for layout in found[1:] if layout[0] in (2, cores)]


def layouts_compare(engine: str, n: int, batch: int) -> list[ProcessRun]:
    """The ``engine`` in each layout: P processes of T threads each, embedding at the same time."""
    runs = []
    for processes, threads in layouts(os.cpu_count() or 1):
        env = {
            "VISUALSEARCH_ENGINE": engine,
            "VISUALSEARCH_ENGINE_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": "1",
        }
        label = f"{processes} process{'es' if processes > 1 else ''} × {threads} thread{'s' if threads > 1 else ''}"
        runs.append(run_processes(label, processes, max(batch * 2, n // processes), batch, env))
    return runs


def layout_lines(engine: str, runs: list[ProcessRun]) -> list[Line]:
    """The layouts' figures and the recommended one (more processes must earn their memory)."""
    lines: list[Line] = [("", f"worker layout ({engine}, processes × threads embedding at the same time):")]
    for run in runs:
        others = f" (others used {run.others:.0%})" if run.others else ""
        lines.append(
            ("", f"  {run.label}: {run.images_per_second:.1f} images/s in all, ~{run.peak_mib:.0f} MiB each{others}")
        )
    single, best = runs[0], max(runs, key=lambda run: run.images_per_second)
    more = max(runs[1:], key=lambda run: run.images_per_second, default=single)
    gain = more.images_per_second / single.images_per_second - 1
    if max(run.others for run in runs) > BUSY_SHARE:
        lines.append(("WARNING", BUSY_WARNING))
    if best is single or gain < MIN_GAIN:
        best = single
        why = f"more processes add {100 * gain:+.0f}% at best (less than {100 * MIN_GAIN:.0f}%)"
    else:
        why = f"{100 * gain:+.0f}% over {single.label}, one model in memory per process"
    threads = best.label.split("×")[1].split()[0]
    command = EMBEDDING_WORKER.format(processes=best.processes)
    lines.append(
        (
            "SUCCESS",
            f"Recommended embedding worker layout on this {os.cpu_count()}-core CPU: {best.label} "
            f"(`{command}` with VISUALSEARCH_ENGINE_THREADS={threads}): {why}.",
        )
    )
    return lines
