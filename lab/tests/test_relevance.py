"""The relevance measurements behind ``evaluate`` (lab.relevance): relevance on a hand-built
catalogue whose answers are known, the command over the database, and the photo figures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from lab import relevance
from lab.tests.known_catalogue import known_catalogue, known_vectors
from shop.models import Product
from visualsearch.models import Projection
from visualsearch.tests.services.test_heads import (  # quick_training: the fixture, by name
    make_catalogue,
    quick_training,  # noqa: F401
    train,
)


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


def test_photo_figures_count_a_same_picture_twin_only_in_the_twin_figures() -> None:
    from visualsearch.services.photo_pairs import EmbeddedPhotoSet

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(30, 2048)).astype(np.float32)
    vectors[6] = vectors[5]  # product 106 is listed with product 105's very picture
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    attributes = {"article_type": ["Tshirts"] * 30}
    checksums = np.asarray([f"sum-{i}" for i in range(30)], dtype=object)
    checksums[20] = checksums[12]  # product 120: the same file as 112, its vector computed apart
    catalogue = relevance.Catalogue(np.arange(100, 130, dtype=np.int64), vectors, attributes, None, checksums)
    assert relevance.catalogue_twins(catalogue).summary() == {"products": 4, "groups": 2}
    index = relevance.build_index(catalogue, None)
    # Photos of products 106 (a tie with its twin 105, which the index lists first), 110, and
    # 120 looking exactly like 112's stored picture (the same file).
    rows = np.array([6, 10, 20])
    photos = EmbeddedPhotoSet(rows, vectors[[6, 10, 12]], np.zeros((3, 196), np.float32))
    scores = relevance.evaluate_photos(catalogue, index, photos, colour_weight=0.0)
    assert scores.twin_at_1 == [1.0, 1.0, 1.0]
    assert scores.self_at_1 == [0.0, 1.0, 0.0]  # the tie went to the twin; 112 came before 120
    assert scores.self_at_5[:2] == [1.0, 1.0]


# --- evaluate beside an active head (the head tests' synthetic catalogue) -----------------------


@pytest.mark.slow  # trains a head (seconds)
@pytest.mark.django_db
@pytest.mark.usefixtures("quick_training")
def test_evaluate_reports_the_held_out_split_side_by_side() -> None:
    make_catalogue(900)
    head = train().head
    out = io.StringIO()
    call_command("evaluate", "--photos", "0", stdout=out)
    lines = out.getvalue().splitlines()
    assert "# queries from: the held-out split" in lines
    assert any(line.startswith("# same-picture twins: 0 products in 0 groups") for line in lines)
    queries = head.metrics["eval"]["queries"]
    assert f"# held-out split: {queries} find-similar queries, never trained or tuned on" in lines
    at = next(i for i, line in enumerate(lines) if line.startswith("figure"))
    assert "raw backbone" in lines[at] and f"head-v{head.pk} + colour" in lines[at]
    row = next(line for line in lines[at:] if line.startswith("P@5 articleType+baseColour "))
    raw, configured = (float(v) for v in row.split()[-2:])
    assert configured == pytest.approx(head.metrics["eval"]["p5_type_colour"], abs=1e-3)
    assert raw == pytest.approx(head.metrics["raw"]["p5_type_colour"], abs=1e-3)
