"""bench_embed --engines' report: one line per engine in the issue's format with the default
marked, the layouts that fill the cores, and the layout advice (a second process must earn it)."""

from __future__ import annotations

from lab.bench_embed import ProcessRun
from lab.bench_engines import EngineComparison, EngineFigure, engine_lines, layout_lines, layouts


def test_one_line_per_engine_with_the_default_marked() -> None:
    comparison = EngineComparison(
        [EngineFigure("tensorflow", 4.0, 1.0, 0.0), EngineFigure("onnx", 7.8, 0.9999996, 0.0)],
        {},
        "onnx",
    )
    lines = [text for _style, text in engine_lines(comparison)]
    assert lines[0] == "engine tensorflow: 4.0 images/s, 1.00× tensorflow, min cosine 1.000000"
    assert lines[1].startswith("engine onnx: 7.8 images/s, 1.95× tensorflow, min cosine 1.000000")
    assert lines[1].endswith("<- default (VISUALSEARCH_ENGINE=auto)") and "default" not in lines[0]


def test_an_engine_not_measured_says_why() -> None:
    comparison = EngineComparison(
        [EngineFigure("tensorflow", 4.0, 1.0, 0.5)], {"onnx": "the export was refused"}, "tensorflow"
    )
    lines = engine_lines(comparison)
    assert ("WARNING", "engine onnx: not measured: the export was refused") in lines
    assert lines[-1][0] == "WARNING"  # others used half the CPUs: the figures are low


def test_layouts_fill_the_cores() -> None:
    assert layouts(1) == [(1, 1)]
    assert layouts(2) == [(1, 2), (2, 1)]
    assert layouts(4) == [(1, 4), (2, 2), (4, 1)]
    assert layouts(6) == [(1, 6), (2, 3), (6, 1)]


def test_a_second_process_must_earn_its_memory() -> None:
    single = ProcessRun("1 process × 2 threads", 1, 10.0, 700.0, 0.0)
    close = ProcessRun("2 processes × 1 thread", 2, 11.0, 700.0, 0.0)
    assert (
        "1 process × 2 threads (`celery -A config worker -Q celery --concurrency 1`"
        in layout_lines("onnx", [single, close])[-1][1]
    )
    assert "+10%" in layout_lines("onnx", [single, close])[-1][1]
    faster = ProcessRun("2 processes × 1 thread", 2, 13.0, 700.0, 0.0)
    advice = layout_lines("onnx", [single, faster])[-1][1]
    assert "2 processes × 1 thread (`celery -A config worker -Q celery --concurrency 2`" in advice
    assert "VISUALSEARCH_ENGINE_THREADS=1" in advice and "+30%" in advice
