"""visualsearch.query.ranking, over products with stored vectors in the real database: the
index is tests.support's brute-force one (the raw vectors, no projection), the stored vectors
come from visualsearch.selectors.stored_vectors_load."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest

from shop.models import Product
from tests.support.brute_force_index import BruteForceIndex
from tests.support.embeddings import store_vector
from visualsearch.index import Hit
from visualsearch.ml import colour as colour_mod
from visualsearch.models import ProductEmbedding
from visualsearch.query.ranking import (
    is_close_match,
    photo_candidates,
    rank_photo,
    raw_photo_score,
    rerank_candidates,
    rescored,
    similar_hits,
)
from visualsearch.selectors import stored_vectors_load

pytestmark = pytest.mark.django_db


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(2048).astype(np.float32)
    return vector / np.linalg.norm(vector)


def colour_of(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).random(colour_mod.COLOUR_DIM).astype(np.float32)
    return values / np.linalg.norm(values)


@pytest.fixture
def stored(make_product: Callable[..., Product]) -> list[Product]:
    """Six products with stored vectors (seeds 0–5) and colour descriptors (seeds 10–15)."""
    products = [make_product() for _ in range(6)]
    for seed, product in enumerate(products):
        store_vector(product, unit(seed))
        ProductEmbedding.objects.filter(product=product).update(colour=colour_mod.to_bytes(colour_of(10 + seed)))
    return products


def near(seed: int, noise: float, other: int = 99) -> np.ndarray:
    vector = unit(seed) + noise * unit(other)
    return vector / np.linalg.norm(vector)


# --- the stored vectors ---------------------------------------------------------------------------


def test_the_stored_vectors_are_the_current_models(stored: list[Product]) -> None:
    first, second, third = stored[:3]
    ProductEmbedding.objects.filter(product=second).update(model_version="an-older-model")
    ProductEmbedding.objects.filter(product=third).update(vector=None)
    found = stored_vectors_load([first.pk, second.pk, third.pk, 10**9])
    assert list(found) == [first.pk]
    vector, colour = found[first.pk]
    np.testing.assert_allclose(vector, unit(0), atol=1e-7)
    np.testing.assert_array_equal(colour, colour_mod.from_bytes(colour_mod.to_bytes(colour_of(10))))


# --- find similar ---------------------------------------------------------------------------------


def test_rescoring_orders_the_hits_by_the_full_vectors(stored: list[Product]) -> None:
    query = stored[0].pk
    ids = [p.pk for p in stored[1:]]
    hits = rescored([Hit(pid, 0.0) for pid in ids], None, query)
    expected = sorted(ids, key=lambda pid: -float(unit(ids.index(pid) + 1) @ unit(0)))
    assert [h.product_id for h in hits] == expected
    assert hits[0].score == pytest.approx(float(unit(ids.index(expected[0]) + 1) @ unit(0)), abs=1e-6)


def test_a_hit_without_a_current_vector_keeps_the_index_order(stored: list[Product]) -> None:
    ProductEmbedding.objects.filter(product=stored[2]).update(model_version="an-older-model")
    hits = [Hit(p.pk, 1.0 - i / 10) for i, p in enumerate(stored[1:])]
    assert rescored(hits, None, stored[0].pk) == hits


def test_similar_hits_come_from_the_index_without_the_product(stored: list[Product]) -> None:
    index = BruteForceIndex()
    hits, version = similar_hits(index, stored[0].pk, 3, {})
    assert version == index.model_version
    assert len(hits) == 3 and stored[0].pk not in [h.product_id for h in hits]
    assert hits == index.similar_to_product(stored[0].pk, 3)


def test_only_a_projected_index_is_rescored(settings) -> None:
    settings.VISUALSEARCH_RERANK_CANDIDATES = 32
    assert rerank_candidates(SimpleNamespace(projected=False), 5) == 0  # type: ignore[arg-type]
    assert rerank_candidates(SimpleNamespace(projected=True), 5) == 32  # type: ignore[arg-type]
    assert rerank_candidates(SimpleNamespace(projected=True), 10) == 40  # type: ignore[arg-type]
    settings.VISUALSEARCH_RERANK_CANDIDATES = 0
    assert rerank_candidates(SimpleNamespace(projected=True), 5) == 0  # type: ignore[arg-type]


# --- photo search ---------------------------------------------------------------------------------


def test_photo_candidates_are_at_least_four_k(settings) -> None:
    settings.VISUALSEARCH_PHOTO_CANDIDATES = 50
    assert photo_candidates(5) == 50
    assert photo_candidates(20) == 80


def test_the_photographed_product_comes_first(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_PHOTO_COLOUR_WEIGHT = 0.0
    hits = rank_photo(BruteForceIndex(), near(3, 0.3), None, 4, {})
    assert len(hits) == 4 and hits[0].product_id == stored[3].pk
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_colour_adds_its_weight_times_the_colour_similarity(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_PHOTO_COLOUR_WEIGHT = 0.5
    query = near(3, 0.3)
    hits = rank_photo(BruteForceIndex(), query, colour_of(13), 6, {})
    found = stored_vectors_load([p.pk for p in stored])
    expected = {pid: float(v @ query) + 0.5 * float(c @ colour_of(13)) for pid, (v, c) in found.items()}
    assert [h.product_id for h in hits] == sorted(expected, key=lambda pid: -expected[pid])
    assert [h.score for h in hits] == pytest.approx([expected[h.product_id] for h in hits], abs=1e-5)
    # An explicit weight wins over the setting.
    plain = rank_photo(BruteForceIndex(), query, colour_of(13), 6, {}, colour_weight=0.0)
    assert plain[0].score == pytest.approx(float(found[stored[3].pk][0] @ query), abs=1e-6)


def test_several_variants_score_each_product_by_its_best(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_PHOTO_COLOUR_WEIGHT = 0.0
    variants = np.stack([near(1, 0.2), near(4, 0.1)])
    hits = rank_photo(BruteForceIndex(), variants, None, 2, {})
    assert {h.product_id for h in hits} == {stored[1].pk, stored[4].pk}
    assert hits[0].product_id == stored[4].pk  # the closer variant


def test_a_lookup_handed_in_replaces_the_database(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_PHOTO_COLOUR_WEIGHT = 0.0
    target = stored[5].pk
    lookup_calls: list[list[int]] = []

    def lookup(product_ids):
        lookup_calls.append(list(product_ids))
        return {pid: (unit(0) if pid == target else -unit(0), None) for pid in product_ids}

    hits = rank_photo(BruteForceIndex(), unit(0), None, 1, {}, stored=lookup)
    assert hits[0].product_id == target and lookup_calls


def test_no_candidate_no_hits(stored: list[Product]) -> None:
    assert rank_photo(BruteForceIndex(), unit(0), None, 5, {"gender": "nobody"}) == []


def test_the_raw_score_is_the_cosine_plus_the_colour_term(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_PHOTO_COLOUR_WEIGHT = 0.25
    vector, colour = stored_vectors_load([stored[2].pk])[stored[2].pk]
    query = near(2, 0.5)
    assert raw_photo_score(query, None, stored[2].pk) == pytest.approx(float(vector @ query), abs=1e-6)
    with_colour = raw_photo_score(query, colour_of(12), stored[2].pk)
    assert with_colour == pytest.approx(float(vector @ query) + 0.25 * float(colour @ colour_of(12)), abs=1e-5)
    ProductEmbedding.objects.filter(product=stored[2]).update(vector=None)
    assert raw_photo_score(query, None, stored[2].pk) is None


def test_a_close_match_reaches_the_threshold(settings) -> None:
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 0.6
    assert not is_close_match([])
    assert is_close_match([Hit(1, 0.6)]) and not is_close_match([Hit(1, 0.59)])
    assert not is_close_match([Hit(1, 0.9)], raw_score=0.5)  # the raw score decides when given


# --- photo search from the index's own learned-space rows ---------------------------------------


def _photo_space_index(products: list[Product]):
    """An exact index of these products' stored vectors with a head whose photo space is a
    random 2048 → 32 map (colour weight 0.3)."""
    from visualsearch.index.memory import EmbeddingIndex
    from visualsearch.ml import head as head_mod
    from visualsearch.ml.photo_projection import PhotoProjection

    rng = np.random.default_rng(7)
    head = head_mod.Head(
        rng.standard_normal((2048, 16)).astype(np.float32),
        np.zeros(16, np.float32),
        rng.standard_normal((16, 8)).astype(np.float32),
        np.zeros(8, np.float32),
    )
    photo = PhotoProjection(
        rng.standard_normal(2048).astype(np.float32) * 0.01,
        rng.standard_normal((2048, 32)).astype(np.float32),
        0.3,
        1.0,
    )
    found = stored_vectors_load([p.pk for p in products])
    ids = [p.pk for p in products]
    colours = np.stack([found[pid][1] for pid in ids])
    return EmbeddingIndex.from_arrays(
        ids,
        np.stack([found[pid][0] for pid in ids]),
        colours=colours,
        head=head_mod.SimilarityModel(head, None, 0.0, {}, photo),
        head_pk=1,
    )


def test_a_learned_space_index_scores_photos_from_its_own_rows(stored: list[Product]) -> None:
    index = _photo_space_index(stored)
    queries = np.stack([near(2, 0.4), near(4, 0.5)])
    vector_reads: list[list[int]] = []

    def counted(product_ids):
        vector_reads.append(list(product_ids))
        return stored_vectors_load(product_ids)

    fast = rank_photo(index, queries, colour_of(12), 6, {}, stored=counted)
    assert vector_reads == []  # no stored vector read: the rows came from the index
    assert index.photo_rows([p.pk for p in stored]) is not None

    class StoredOnly:  # the same index without its rows: the stored vectors re-score, as before
        def __getattr__(self, name):
            if name == "photo_rows":
                raise AttributeError(name)
            return getattr(index, name)

    slow = rank_photo(StoredOnly(), queries, colour_of(12), 6, {}, stored=counted)
    assert vector_reads
    assert [h.product_id for h in fast] == [h.product_id for h in slow]
    assert [h.score for h in fast] == pytest.approx([h.score for h in slow], abs=1e-5)


def test_a_candidate_whose_stored_vector_has_gone_falls_back_to_the_stored_vectors(stored: list[Product]) -> None:
    index = _photo_space_index(stored)
    ProductEmbedding.objects.filter(product=stored[0]).update(vector=None)
    vector_reads: list[list[int]] = []

    def counted(product_ids):
        vector_reads.append(list(product_ids))
        return stored_vectors_load(product_ids)

    hits = rank_photo(index, near(3, 0.3), colour_of(13), 6, {}, stored=counted)
    assert vector_reads  # the colour lookup missed it, so the stored vectors were read
    # ... and, a candidate missing there too, the index's order stands, as before.
    assert hits[0].product_id == stored[3].pk
    assert stored[0].pk in [h.product_id for h in hits]


def test_rows_are_given_only_in_photo_search_space_and_only_for_indexed_products(stored: list[Product]) -> None:
    from visualsearch.index.memory import EmbeddingIndex

    found = stored_vectors_load([p.pk for p in stored])
    plain = EmbeddingIndex.from_arrays(list(found), np.stack([v for v, _c in found.values()]))
    assert plain.photo_rows(list(found)) is None  # raw vectors: the stored ones re-score
    index = _photo_space_index(stored)
    assert index.photo_rows([stored[0].pk, 10**9]) is None
    rows = index.photo_rows([stored[1].pk, stored[0].pk])
    assert rows is not None and rows.shape == (2, 32)
    projection = index.photo_projection
    assert projection is not None
    np.testing.assert_allclose(rows[0], projection.apply(found[stored[1].pk][0][None, :])[0], atol=1e-6)
