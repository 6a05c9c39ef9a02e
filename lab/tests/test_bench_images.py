"""``bench_search --images-per-product`` (lab.bench_images): the exact structures and the FAISS
site over the artifact with the more images, measured on a small synthetic catalogue."""

from __future__ import annotations

import pytest

from lab.bench_images import images_benchmark, images_lines


@pytest.mark.django_db
def test_images_benchmark_measures_the_exact_and_the_faiss_site() -> None:
    report = images_benchmark(rows=800, images_per_product=3, queries=20, seed=0, dims=32)
    assert report.image_rows == 1600 and report.products_memory.rows == 800
    # The FAISS site maps the more images: its own memory for them is a mask, not their rows.
    assert 0 < report.artifact_images_memory < report.images_memory.memory_bytes / 10
    assert 0 < report.artifact_image_files_bytes < report.artifact_mapped_bytes
    assert report.photo_artifact is not None and report.photo_artifact.p50 > 0
    assert report.first_artifact >= 0.9 and report.first_many >= 0.9
    lines = images_lines(report)
    assert any(line.startswith("FAISS site (") for line in lines)
