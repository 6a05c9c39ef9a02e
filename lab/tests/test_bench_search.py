"""The search benchmarks behind ``bench_search`` (lab.bench_search): the numpy bound, the kNN
and request benchmarks return real timings and counts, and the command's lines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab import bench_search
from shop.models import Product


def test_numpy_bound_is_the_exact_top_k() -> None:
    matrix = np.random.default_rng(0).standard_normal((50, 64)).astype(np.float32)
    top = bench_search.numpy_bound(matrix, matrix[7], k=3)
    assert list(top) == list(np.argsort(-(matrix @ matrix[7]))[:3])


@pytest.mark.django_db
def test_knn_benchmark_on_synthetic_vectors(known_products: list[Product]) -> None:
    report = bench_search.knn_benchmark([], queries=8, seed=0, dims=16, synthetic_rows=300)
    assert report.rows == 300 and report.data.startswith("SYNTHETIC 300 × 2048")
    assert set(report.indexes) == {"index full-2048", "index PCA-16"}
    assert all(len(t.samples_ms) == 8 and t.p50 > 0 for t in [report.bound, *report.indexes.values()])
    assert report.ratio("index PCA-16") > 0
    assert {m.rows for m in report.memory.values()} == {300}
    assert report.memory["index PCA-16"].memory_bytes < report.memory["index full-2048"].memory_bytes
    # The 12 real products lend their attributes: the filtered search uses the commonest gender.
    assert report.filter_gender == "Men" and set(report.filtered) == set(report.indexes)
    assert report.sklearn is not None and report.sklearn_queries == 8 and report.sklearn.p50 > 0


@pytest.mark.django_db
def test_knn_benchmark_on_the_real_embeddings(known_products: list[Product]) -> None:
    ids = bench_search.embedded_ids()
    assert ids == sorted(p.pk for p in known_products)
    report = bench_search.knn_benchmark(ids, queries=5, seed=0, dims=4, real_min_rows=10, sklearn=False)
    assert report.rows == 12 and report.data.startswith("the real catalogue, 12")
    assert set(report.indexes) == {"index full-2048"}  # no stored projection
    assert report.sklearn is None


@pytest.mark.django_db
def test_request_benchmark_goes_through_the_views(known_products: list[Product]) -> None:
    ids = [p.pk for p in known_products]
    report = bench_search.request_benchmark(ids, queries=5, seed=0)
    assert report.index_rows == 12 and report.space == "2048 dims"
    assert list(report.timings) == ["find-similar API", "find-similar API same_type", "find-similar page"]
    assert all(len(t.samples_ms) == 5 and t.p50 > 0 for t in report.timings.values())
    assert report.sql_per_request >= 1 and report.memory.rows == 12
    response = bench_search.serve(f"/api/products/{ids[0]}/similar")
    assert len(json.loads(response.content)["results"]) == 5
    with pytest.raises(bench_search.BenchmarkFailed):
        bench_search.serve("/api/products/999999/similar")


def test_bench_search_lines_keep_the_figures_of_the_command() -> None:
    timing = bench_search.Timing([1.0, 2.0, 3.0])
    memory = bench_search.IndexMemory(2_000_000, 1_500_000, 300)
    knn = bench_search.KnnReport(
        data="SYNTHETIC 300 × 2048",
        rows=300,
        bound=bench_search.Timing([1.0, 1.0, 1.0]),
        indexes={"index PCA-16": timing},
        memory={"index PCA-16": memory},
        filtered={"index PCA-16": timing},
        filter_gender="Men",
    )
    assert bench_search.knn_lines(knn) == [
        "# kNN data: SYNTHETIC 300 × 2048",
        "kNN ms/query numpy bound (2048): p50 1.00 p95 1.00 mean 1.00 ms",
        "kNN ms/query index PCA-16: p50 2.00 p95 2.90 mean 2.00 ms",
        "kNN ratio index PCA-16 / numpy bound 2.00 (target <= 1.5)",
        "index memory index PCA-16: 2000000 bytes = 2.0 MB (1.5 MB of arrays), 300 rows (goal <= 100 MB at 43k)",
        "kNN ms/query index PCA-16 gender=Men: p50 2.00 p95 2.90 mean 2.00 ms",
    ]
    photo = bench_search.PhotoReport(False, 3, bench_search.Timing([40.0]), bench_search.Timing([50.0]))
    assert bench_search.photo_lines(photo)[0].endswith(
        "through the Celery `query` queue (a query worker must be running)"
    )
    assert bench_search.photo_lines(photo)[-1] == "photo search ratio end-to-end / forward pass 1.25 (target <= 1.5)"
    photo.bare_two = bench_search.Timing([70.0])
    assert bench_search.photo_lines(photo)[-1] == "two inputs / one input 1.75 (a photo the default box trims)"
    photo.ranking_rows, photo.ranking_stored = bench_search.Timing([3.0]), bench_search.Timing([12.0])
    assert bench_search.photo_lines(photo)[-1] == "photo ranking rows from the index / stored vectors 0.25"
