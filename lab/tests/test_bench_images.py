"""``bench_search --images-per-product`` (lab.bench_images): the exact structures and the FAISS
site over the artifact with the more images, measured on a small synthetic catalogue."""

from __future__ import annotations

import numpy as np
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


@pytest.mark.django_db
def test_with_real_the_catalogues_own_vectors_are_the_one_image_per_product(make_product) -> None:
    from lab.bench_images import real_catalogue
    from tests.support.embeddings import store_vector

    products = [make_product(name=f"Real {i}") for i in range(300)]
    for number, product in enumerate(products):
        store_vector(product, seed=number)
    main, ids, _attributes, projection = real_catalogue(300, 16, seed=0)
    assert ids == sorted(p.pk for p in products) and main.shape == (300, 2048)
    first = min(products, key=lambda p: p.pk)
    expected = np.random.default_rng(products.index(first)).standard_normal(2048)
    np.testing.assert_allclose(main[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert projection.components.shape == (16, 2048)
    report = images_benchmark(rows=300, images_per_product=3, queries=20, seed=0, dims=16, real=True)
    assert report.real and report.image_rows == 600 and report.first_many >= 0.9
    assert images_lines(report)[0].startswith("# several images per product: the catalogue's own 300 products")
    with pytest.raises(ValueError, match="needs 400 embedded products"):
        real_catalogue(400, 16, seed=0)
