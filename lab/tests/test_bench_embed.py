"""The embedding benchmarks behind ``bench_embed`` (lab.bench_embed): the report and advice
lines, the round and process protocol, throwaway products, and a run with the real model."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from lab import bench_embed, bench_search
from shop.models import Product


def test_bench_embed_lines() -> None:
    report = bench_embed.EmbedReport(bench_embed.Timed(20.0, 0.0), bench_embed.Timed(19.0, 0.3, model_busy=0.8))
    lines = bench_embed.report_lines(report, "postgresql")
    assert ("SUCCESS", "ratio e2e/bare: 0.95 (target ≥ 0.9) OK") in lines
    assert lines[1] == (
        "SUCCESS",
        "(b) end to end (storage → decode → embed → postgresql): 19.0 images/s (others used 30%)",
    )
    assert any("model was busy 80.0% of the time" in text for _style, text in lines)
    assert lines[-1] == ("WARNING", bench_embed.BUSY_WARNING)
    advice = bench_embed.concurrency_lines([run(1, 10), run(2, 10.5), run(2, 9)])
    assert advice[0][1].startswith("worker concurrency") and advice[-1][0] == "SUCCESS"
    assert "  2 processes: 10.5 images/s in all, ~900 MiB per process" in [text for _s, text in advice]


# --- bench_embed -----------------------------------------------------------------------------


def test_reported_round_prefers_the_fastest_quiet_round() -> None:
    T = bench_embed.Timed
    bare = [T(10, 0.0), T(30, 0.5), T(12, 0.05)]
    e2e = [T(9, 0.0), T(25, 0.5), T(11, 0.0)]
    assert bench_embed.reported_round(bare, e2e) == (bare[2], e2e[2])
    noisy = [T(10, 0.3), T(12, 0.4)]
    assert bench_embed.reported_round(noisy, [T(8, 0.2), T(7, 0.9)]) == (noisy[1], T(8, 0.2))
    assert bench_embed.others_share(0.0, 5, 1) == 0.0
    assert 0.0 <= bench_embed.others_share(1.0, 100.0, 0.0) <= 1.0


def _sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def test_seconds_inside_measures_one_function_without_replacing_it() -> None:
    def pipeline() -> str:
        time.sleep(0.02)
        return _sleepy(0.05) + _sleepy(0.05)

    result, inside = bench_embed.seconds_inside(_sleepy, pipeline)
    assert result == "donedone"
    assert 0.09 <= inside < 0.5
    assert bench_embed.seconds_inside(_sleepy, lambda: 1)[1] == 0.0


def run(processes: int, images_per_second: float, others: float = 0.0) -> bench_embed.ProcessRun:
    return bench_embed.ProcessRun(f"{processes} processes", processes, images_per_second, 900.0, others)


def test_worker_advice_matches_the_readme_workers() -> None:
    advices = [
        bench_embed.recommendation([run(1, 10), run(2, 10.5), run(2, 9)]),
        bench_embed.recommendation([run(1, 10), run(2, 14), run(2, 9)]),
        bench_embed.recommendation([run(1, 10), run(2, 14, others=0.5), run(2, 9)]),
    ]
    for advice in advices:
        assert "celery,query" not in advice and "-c 1" not in advice
        assert "celery -A config worker -Q query --pool solo" in advice
    assert "celery -A config worker -Q celery --concurrency 1" in advices[0]
    assert "celery -A config worker -Q celery --concurrency 2" in advices[1]
    assert "too busy" in advices[2]


def test_concurrent_processes_protocol() -> None:
    """run_processes drives children that speak child_run's protocol (here a stand-in)."""
    child = textwrap.dedent(
        """
        import json, sys, time
        print("ready", flush=True)
        sys.stdin.readline()
        time.sleep(0.05)
        print(json.dumps({"images": 8, "seconds": 0.05, "cpu": 0.0, "peak_mib": 50.0}), flush=True)
        """
    )
    result = bench_embed.run_processes("2 stand-ins", 2, 8, 4, {}, command=[sys.executable, "-c", child])
    assert (result.processes, result.peak_mib) == (2, 50.0)
    assert result.images_per_second == pytest.approx(16 / 0.05)
    with pytest.raises(bench_embed.BenchmarkFailed):
        bench_embed.run_processes("broken", 1, 8, 4, {}, command=[sys.executable, "-c", "print('nope')"])


@pytest.mark.django_db
def test_throwaway_products_leave_nothing_behind(make_image: Callable[..., bytes]) -> None:
    from django.core.files.storage import default_storage

    images = [("1", make_image()), ("2", make_image(colour=(0, 90, 200)))]
    with bench_embed.ThrowawayProducts(images) as ids:
        products = list(Product.objects.filter(pk__in=ids))
        assert len(products) == 2 and not any(p.is_active for p in products)
        names = [p.image.name for p in products]
        assert all(default_storage.exists(name) for name in names)
    assert not Product.objects.filter(pk__in=ids).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_catalogue_images_says_what_is_missing(tmp_path) -> None:
    with pytest.raises(bench_embed.BenchmarkFailed, match="No catalogue images"):
        bench_embed.catalogue_images(1, tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "7.jpg").write_bytes(b"x")
    assert bench_embed.catalogue_images(1, tmp_path) == [("7", b"x")]
    with pytest.raises(bench_embed.BenchmarkFailed, match="Only 1 images"):
        bench_embed.catalogue_images(2, tmp_path)


@pytest.mark.slow
@pytest.mark.django_db
def test_embedding_and_photo_benchmarks_with_the_real_model(real_weights, known_products: list[Product]) -> None:
    images = bench_embed.catalogue_images(4)
    pixels, decode_rate = bench_embed.decode(images)
    assert pixels.shape == (4, 224, 224, 3) and decode_rate > 0
    before = Product.objects.count()
    rounds: list[int] = []
    report = bench_embed.bench_rounds(images, pixels, 2, 1, lambda number, bare, e2e: rounds.append(number))
    assert rounds == [1] and Product.objects.count() == before
    assert report.bare.images_per_second > 0 and report.e2e.images_per_second > 0
    assert report.e2e.model_busy is not None and 0 < report.e2e.model_busy <= 1
    photos = bench_search.photo_benchmark([p.pk for p in known_products], photos=3, seed=0)
    assert photos.photos == 3 and photos.bare.p50 > 0 and photos.end_to_end.p50 > 0 and photos.ratio > 0
    assert photos.bare_two is not None and photos.bare_two.p50 > 0
