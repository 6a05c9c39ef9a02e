"""The measurement functions behind evaluate, bench_search, bench_embed and
seed_synthetic_embeddings: relevance on a hand-built catalogue whose answers are known,
benchmarks that return real timings and counts, and synthetic embeddings that never pass
for real ones."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import time
from collections.abc import Callable

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from shop.models import Product
from visualsearch.evaluation import bench_embed, bench_search, relevance, synthetic
from visualsearch.index import get_index, reset_index
from visualsearch.index.base import FULL_DIMS
from visualsearch.index.loading import SYNTHETIC_MODEL_VERSION
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, Projection, ReindexJob
from visualsearch.selectors import embedding_counts
from visualsearch.services.reindex import reindex_job_start

# --- A catalogue whose answers are known ---------------------------------------------------
#
# Two groups far apart (orthogonal directions):
#   X: 6 Tshirts (Topwear, Apparel), equally close to each other; 3 Red for Men, 3 Blue for Women.
#   Y: 3 pairs of near twins, one Jeans and one Trousers each (Bottomwear, Legwear, Blue, Men);
#      a product's nearest neighbour is its twin, of the other type.
# Find similar (k=5) of an X product: the 5 other Tshirts (P@5 type 1, P@1 1, colour 2/5).
# Of a Y product: the 5 others of Y, 2 of its type (P@5 type 2/5), its twin first (P@1 0).
# With "same gender" a Red (Men) Tshirt finds its 2 Red mates, then 3 of Y (P@5 2/5); a Blue
# (Women) one finds only its 2 Blue mates, the 3 missing results count as misses (P@5 2/5).

X = [("Tshirts", "Topwear", "Apparel", "Red", "Men")] * 3 + [("Tshirts", "Topwear", "Apparel", "Blue", "Women")] * 3
Y = [("Jeans", "Bottomwear", "Legwear", "Blue", "Men"), ("Trousers", "Bottomwear", "Legwear", "Blue", "Men")] * 3


def known_vectors() -> np.ndarray:
    vectors = np.zeros((12, FULL_DIMS), dtype=np.float32)
    for i in range(6):
        vectors[i, 0] = 1.0
        vectors[i, 10 + i] = 0.3
    for pair in range(3):
        for twin, sign in ((0, 1.0), (1, -1.0)):
            row = 6 + 2 * pair + twin
            vectors[row, 1] = 1.0
            vectors[row, 20 + pair] = 0.3
            vectors[row, 30 + pair] = 0.02 * sign
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def known_catalogue(extra_unlabelled: int = 0) -> relevance.Catalogue:
    rows = X + Y + [("", "", "", "", "")] * extra_unlabelled
    vectors = known_vectors()
    if extra_unlabelled:
        far = np.zeros((extra_unlabelled, FULL_DIMS), dtype=np.float32)
        far[:, 2] = 1.0
        vectors = np.vstack([vectors, far])
    fields = ("article_type", "sub_category", "master_category", "base_colour", "gender")
    attributes = {name: [row[i] for row in rows] for i, name in enumerate(fields)}
    return relevance.Catalogue(np.arange(100, 100 + len(rows), dtype=np.int64), vectors, attributes)


def test_relevance_report_on_a_known_catalogue() -> None:
    report = relevance.evaluate_relevance(known_catalogue(), sample=100, seed=0, dims=0, rerank_candidates=32)
    assert (report.index_size, report.queries, report.space) == (12, 12, "2048")
    figures = dict(report.figures())
    assert figures["P@5 articleType"] == pytest.approx((6 * 1 + 6 * 0.4) / 12)
    assert figures["P@1 articleType"] == pytest.approx(0.5)
    assert figures["P@5 subCategory"] == pytest.approx(1.0)
    assert figures["P@5 baseColour"] == pytest.approx((6 * 0.4 + 6 * 1) / 12)
    assert figures["P@5 articleType [Apparel]"] == pytest.approx(1.0)
    assert figures["P@5 articleType [Legwear]"] == pytest.approx(0.4)
    worst, eligible = report.worst_types(2, min_queries=3)
    assert eligible == 3
    assert worst == [(pytest.approx(0.4), 3, "Jeans"), (pytest.approx(0.4), 3, "Trousers")]
    assert report.worst_types(5, min_queries=4) == ([(1.0, 6, "Tshirts")], 1)
    refined = {toggle: relevance.mean(scores.type_at_5) for toggle, scores in report.refined.items()}
    assert refined == {
        "same_gender": pytest.approx(0.4),
        "same_master": pytest.approx(figures["P@5 articleType"]),
        "same_sub": pytest.approx(figures["P@5 articleType"]),
    }
    assert report.searches == 12 * 4
    assert report.search_seconds > 0


def test_find_similar_never_returns_the_product_and_reranks_exactly() -> None:
    catalogue = known_catalogue()
    projection, _explained = relevance.projection_mod.projection_fit_vectors(catalogue.vectors, 3, seed=0)
    index = relevance.build_index(catalogue, projection)
    exact = relevance.Searcher(catalogue, index, rerank_candidates=32)
    assert exact.candidates == 32
    for row in range(len(catalogue)):
        found = exact.similar(row, {})
        assert row not in found and len(found) == 5
        scores = catalogue.vectors[found] @ catalogue.vectors[row]
        assert list(scores) == sorted(scores, reverse=True)
        if row >= 6:  # Y: the twin first, whatever the 3-dim projection confused
            assert found[0] == row + 1 if row % 2 == 0 else row - 1
    assert relevance.Searcher(catalogue, index, rerank_candidates=0).candidates == 0


def test_sample_queries_are_labelled_seeded_and_sorted() -> None:
    catalogue = known_catalogue(extra_unlabelled=3)
    sample = relevance.sample_queries(catalogue, 5, seed=0)
    assert len(sample) == 5 and list(sample) == sorted(sample)
    assert all(catalogue.value("article_type", row) for row in sample)
    assert list(sample) == list(relevance.sample_queries(catalogue, 5, seed=0))
    assert list(relevance.sample_queries(catalogue, 5, seed=1)) != list(sample) or len(set(sample)) == 5
    assert list(relevance.sample_queries(catalogue, 500, seed=0)) == list(range(12))


def test_too_few_products() -> None:
    small = relevance.Catalogue(np.arange(3, dtype=np.int64), known_vectors()[:3], {"article_type": ["Tshirts"] * 3})
    with pytest.raises(relevance.TooFewProducts):
        relevance.evaluate_relevance(small, sample=10, seed=0, dims=0, rerank_candidates=0)


# --- evaluate over the database --------------------------------------------------------------


@pytest.fixture
def known_products(make_product: Callable[..., Product], make_image: Callable[..., bytes]) -> list[Product]:
    """The known catalogue as products with stored vectors of the current model (no model run)."""
    image = make_image(size=(8, 8))
    products = []
    for (article_type, sub, master, colour, gender), vector in zip(X + Y, known_vectors(), strict=True):
        product = make_product(
            image=image,
            article_type=article_type,
            sub_category=sub,
            master_category=master,
            base_colour=colour,
            gender=gender,
        )
        ProductEmbedding.objects.update_or_create(
            product=product,
            defaults={
                "vector": vector.astype("<f4").tobytes(),
                "status": EmbeddingStatus.DONE,
                "model_version": MODEL_VERSION,
            },
        )
        products.append(product)
    return products


@pytest.mark.django_db
def test_evaluate_command_fits_pca_in_memory_and_stores_nothing(known_products: list[Product], settings) -> None:
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10
    settings.VISUALSEARCH_INDEX_DIMS = 4
    out = io.StringIO()
    call_command("evaluate", "--sample", "200", "--seed", "0", "--queries", "all", stdout=out)
    text = out.getvalue()
    assert Projection.objects.count() == 0
    assert "PCA-4 (fitted in memory for this evaluation, not stored) fitted on 12 embeddings" in text
    assert "# index: 12 vectors, PCA-4 + exact 2048-dim re-rank" in text
    # 11 candidates re-ranked exactly: the known figures of the full vectors.
    for line in ("P@5 articleType 0.700", "P@1 articleType 0.500", "P@5 subCategory 1.000"):
        assert line in text.splitlines()
    assert "P@5 articleType same_gender 0.400" in text.splitlines()
    # Jeans and Trousers have 3 queries each, fewer than --min-queries (5): only Tshirts is listed.
    assert [line for line in text.splitlines() if line.startswith("worst")] == [
        "worst articleType Tshirts: P@5 1.000 (6 queries)"
    ]
    assert "# 48 searches in" in text


@pytest.mark.django_db
def test_evaluate_uses_the_stored_projection_and_full_vectors_on_request(
    known_products: list[Product], settings
) -> None:
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10
    settings.VISUALSEARCH_INDEX_DIMS = 4
    from visualsearch.services import projection

    stored = projection.projection_fit()
    assert stored is not None
    out = io.StringIO()
    call_command("evaluate", "--no-rerank", "--min-queries", "3", "--queries", "all", stdout=out)
    assert f"PCA-4 (stored) fitted on {stored.fitted_on} embeddings" in out.getvalue()
    assert "# index: 12 vectors, PCA-4 (built in" in out.getvalue()
    assert list(Projection.objects.values_list("pk", flat=True)) == [stored.pk]
    out = io.StringIO()
    call_command("evaluate", "--dims", "0", "--min-queries", "3", "--queries", "all", stdout=out)
    lines = out.getvalue().splitlines()
    assert "# projection: none (--dims 0): full 2048-dim vectors" in lines
    assert "worst articleType Jeans: P@5 0.400 (3 queries)" in lines


@pytest.mark.django_db
def test_evaluate_refuses_an_empty_index() -> None:
    with pytest.raises(CommandError, match="Only 0 products are analysed"):
        call_command("evaluate", stdout=io.StringIO())


# --- bench_search ------------------------------------------------------------------------------


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


def test_reindex_stall_hint_names_the_readme_workers() -> None:
    from pathlib import Path

    import visualsearch.management.commands.reindex as reindex_command

    source = Path(reindex_command.__file__).read_text()
    assert "celery,query" not in source
    assert "celery -A config worker -Q celery --concurrency 1" in source
    assert "celery -A config worker -Q query --pool solo" in source


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


# --- Synthetic embeddings ----------------------------------------------------------------------


@pytest.mark.django_db
def test_synthetic_embeddings_are_not_real_ones(known_products: list[Product], make_product, settings) -> None:
    real = known_products[:2]
    ProductEmbedding.objects.exclude(product__in=real).delete()
    old_style = known_products[2]  # written by an older seed_synthetic_embeddings: the real version
    ProductEmbedding.objects.create(
        product=old_style,
        vector=known_vectors()[2].astype("<f4").tobytes(),
        status=EmbeddingStatus.DONE,
        model_version=MODEL_VERSION,
        source_checksum=synthetic.SYNTHETIC_CHECKSUM,
    )
    without = known_products[3:]
    out = io.StringIO()
    call_command("seed_synthetic_embeddings", "--yes", stdout=out, stderr=io.StringIO())
    assert f"{len(without)} synthetic embeddings written." in out.getvalue()
    assert "1 older synthetic embeddings moved" in out.getvalue()
    fake = ProductEmbedding.objects.filter(source_checksum=synthetic.SYNTHETIC_CHECKSUM)
    assert fake.count() == len(without) + 1
    assert set(fake.values_list("model_version", flat=True)) == {SYNTHETIC_MODEL_VERSION}
    vector = np.frombuffer(bytes(fake.exclude(product=old_style).first().vector), dtype="<f4")
    assert vector.shape == (FULL_DIMS,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)

    # The admin counts them as not current (stale), the index serves them only when asked
    # (the load test sets VISUALSEARCH_INDEX_SYNTHETIC).
    counts = embedding_counts()
    assert (counts.done, counts.stale, counts.to_reindex) == (2, len(without) + 1, len(without) + 1)
    assert len(get_index()) == 2
    settings.VISUALSEARCH_INDEX_SYNTHETIC = True
    reset_index()
    assert len(get_index()) == len(known_products)

    # reindex --missing covers every synthetic one.
    job = reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)
    assert job.total == len(without) + 1
    assert set(ProductEmbedding.objects.filter(job=job).values_list("product_id", flat=True)) == {
        p.pk for p in known_products[2:]
    }


def test_seed_command_needs_confirmation() -> None:
    with pytest.raises(CommandError, match="--yes"):
        call_command("seed_synthetic_embeddings")


def test_photo_figures_count_a_same_picture_twin_only_in_the_twin_figures() -> None:
    from visualsearch.services.photo_pairs import EmbeddedPhotoSet

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(30, 2048)).astype(np.float32)
    vectors[6] = vectors[5]  # product 106 is listed with product 105's very picture
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    attributes = {"article_type": ["Tshirts"] * 30}
    catalogue = relevance.Catalogue(np.arange(100, 130, dtype=np.int64), vectors, attributes)
    index = relevance.build_index(catalogue, None)
    # Photos of products 106 (a tie with its twin 105, which the index lists first) and 110.
    rows = np.array([6, 10])
    photos = EmbeddedPhotoSet(rows, vectors[rows], np.zeros((2, 196), np.float32))
    scores = relevance.evaluate_photos(catalogue, index, photos, colour_weight=0.0)
    assert scores.self_at_5 == [1.0, 1.0] and scores.twin_at_1 == [1.0, 1.0]
    assert scores.self_at_1 == [0.0, 1.0]  # the tie went to the twin
