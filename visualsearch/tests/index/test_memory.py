"""The exact in-memory EmbeddingIndex over the site's rows: exact kNN and refinements.

Products are real catalogue photos (or images made here) saved through storage, with
embeddings computed by the real model through visualsearch.services.embeddings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from shop.attributes import SEARCHABLE_FIELDS as FILTER_FIELDS
from shop.models import Product
from tests.support.catalogue import rows_with_images
from tests.support.index_probe import stored_vector
from visualsearch.index import NotIndexed
from visualsearch.index.loading import exact_index_load
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable
from visualsearch.query.similar import similar_to_product
from visualsearch.tests.index.support import embed, product_from_row

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def fresh_index() -> EmbeddingIndex:
    """The exact index as a new process would load it."""
    return exact_index_load()[0]


def test_never_the_product_itself_and_exactly_five(catalogue: list[Product]) -> None:
    index = fresh_index()
    assert len(index) == len(catalogue)
    for product in catalogue:
        hits = index.similar_to_product(product.pk, 5)
        assert len(hits) == 5
        assert product.pk not in [h.product_id for h in hits]
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_fewer_than_five_only_when_fewer_exist(make_product: Callable[..., Product]) -> None:
    products = [product_from_row(make_product, row) for row in rows_with_images(4)]
    embed(*products)
    index = fresh_index()
    hits = index.similar_to_product(products[0].pk, 5)
    assert sorted(h.product_id for h in hits) == sorted(p.pk for p in products[1:])
    assert len(index.similar_to_vector(stored_vector(index, products[0].pk), 5)) == 4  # a vector query: all 4
    assert index.similar_to_product(products[0].pk, 50) == hits


def test_ranking_matches_brute_force_over_the_stored_vectors(catalogue: list[Product]) -> None:
    index = fresh_index()
    ids = [p.pk for p in catalogue]
    matrix = np.stack([stored_vector(index, pid) for pid in ids])
    for row, pid in enumerate(ids[:6]):
        scores = matrix @ matrix[row]
        scores[row] = -np.inf
        expected = [ids[i] for i in np.argsort(-scores)[:5]]
        assert [h.product_id for h in index.similar_to_product(pid, 5)] == expected


def test_refinements_keep_only_matching_products(catalogue: list[Product]) -> None:
    index = fresh_index()
    for product in catalogue[:8]:
        for name in FILTER_FIELDS:
            value = getattr(product, name)
            hits = index.similar_to_product(product.pk, 5, {name: value})
            eligible = sum(1 for p in catalogue if p.pk != product.pk and getattr(p, name) == value)
            assert len(hits) == min(5, eligible)
            by_id = {p.pk: p for p in catalogue}
            assert all(getattr(by_id[h.product_id], name) == value for h in hits)


def test_refinements_are_applied_before_ranking(make_product: Callable[..., Product]) -> None:
    """Six products of different types share a rare colour: the filtered search still finds
    the five others, although none of them is among the unfiltered top 5."""
    rows = rows_with_images(30)
    products = [
        product_from_row(make_product, row, base_colour="Mauve" if i % 5 == 0 else row["baseColour"])
        for i, row in enumerate(rows)
    ]
    embed(*products)
    mauve = [p for p in products if p.base_colour == "Mauve"]
    assert len(mauve) == 6
    index = fresh_index()
    query = mauve[0]
    unfiltered = {h.product_id for h in index.similar_to_product(query.pk, 5)}
    filtered = index.similar_to_product(query.pk, 5, {"base_colour": "Mauve"})
    assert {h.product_id for h in filtered} == {p.pk for p in mauve[1:]}
    assert not {h.product_id for h in filtered} <= unfiltered
    # The same through the site's search code, with the shopper's toggle.
    result = similar_to_product(query, k=5, toggles={"same_colour": "1"})
    assert {item.product.pk for item in result.results} == {p.pk for p in mauve[1:]}
    assert index.similar_to_product(query.pk, 5, {"base_colour": "No such colour"}) == []


def test_not_indexed_and_empty_index(make_product: Callable[..., Product]) -> None:
    pending = make_product()
    index = fresh_index()
    assert len(index) == 0
    assert index.similar_to_vector(np.ones(2048, np.float32), 5) == []
    with pytest.raises(NotIndexed):
        index.similar_to_product(pending.pk, 5)
    with pytest.raises(SearchUnavailable, match="no analysed products yet"):
        similar_to_product(pending, k=5)
    embed(make_product(), make_product(base_colour="Blue"))
    with pytest.raises(NotAnalysedYet, match="still being analysed"):
        similar_to_product(pending, k=5)
