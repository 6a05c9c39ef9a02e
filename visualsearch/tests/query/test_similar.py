"""visualsearch.query.similar: find similar and photo search as the pages and the API call
them, on the real index over stored vectors in the real database; photo search's embedder is
handed in (a stand-in that records what it embeds)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from shop.models import Product
from tests.support.embeddings import store_vector
from tests.support.images import image_bytes
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable, UploadRejected
from visualsearch.query.photo import FULL_BOX
from visualsearch.query.similar import similar_to_photo, similar_to_product

pytestmark = pytest.mark.django_db


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(2048).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def stored(make_product: Callable[..., Product]) -> list[Product]:
    products = [make_product(gender="Men" if i % 2 else "Women") for i in range(8)]
    for seed, product in enumerate(products):
        store_vector(product, unit(seed))
    return products


class Embedder:
    """Embeds every input as the vector of seed ``seed``; records the batches."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch)
        return np.stack([unit(self.seed)] * len(batch))


def test_find_similar_never_returns_the_product(stored: list[Product]) -> None:
    result = similar_to_product(stored[0], k=3)
    ids = [r.product.pk for r in result.results]
    assert len(ids) == 3 and stored[0].pk not in ids
    assert result.index_size == len(stored) and result.model_version == MODEL_VERSION
    scores = [r.score for r in result.results]
    assert scores == sorted(scores, reverse=True)


def test_find_similar_applies_the_shoppers_refinements(stored: list[Product]) -> None:
    result = similar_to_product(stored[0], k=5, toggles={"same_gender": "on"})
    assert result.filters == {"gender": stored[0].gender}
    assert result.results and all(r.product.gender == stored[0].gender for r in result.results)


def test_find_similar_without_products_or_embedding_says_why(make_product: Callable[..., Product]) -> None:
    pending = make_product()
    with pytest.raises(SearchUnavailable, match="no analysed products yet"):
        similar_to_product(pending, k=5)
    store_vector(make_product(), unit(0))
    with pytest.raises(NotAnalysedYet, match="still being analysed"):
        similar_to_product(pending, k=5)


def test_photo_search_ranks_keeps_the_query_and_refines_without_the_model(stored: list[Product]) -> None:
    embedder = Embedder(seed=3)
    result = similar_to_photo(image_bytes(), box=FULL_BOX, k=4, embedder=embedder)
    assert result.results[0].product.pk == stored[3].pk
    assert len(embedder.batches) == 1 and embedder.batches[0].shape == (1, 224, 224, 3)
    assert result.token and result.box == FULL_BOX and result.close_match
    assert result.preview_data_url.startswith("data:image/jpeg;base64,")
    assert result.model_version == MODEL_VERSION
    refined = similar_to_photo(token=result.token, k=4, filters={"gender": stored[3].gender}, preview=False)
    assert len(embedder.batches) == 1  # no model for a refinement
    assert refined.results[0].product.pk == stored[3].pk
    assert all(r.product.gender == stored[3].gender for r in refined.results)
    assert refined.preview_data_url == "" and refined.token == result.token


def test_a_filter_no_product_has_embeds_nothing(stored: list[Product]) -> None:
    embedder = Embedder(seed=0)
    result = similar_to_photo(image_bytes(), filters={"gender": "Nobody"}, embedder=embedder)
    assert result.results == [] and result.filters == {"gender": "Nobody"}
    assert embedder.batches == []


def test_a_photo_that_is_not_an_image_is_refused_before_the_model(stored: list[Product]) -> None:
    embedder = Embedder(seed=0)
    with pytest.raises(UploadRejected):
        similar_to_photo(b"\x00" * 100, embedder=embedder)
    assert embedder.batches == []


def test_photo_search_on_an_empty_index_is_unavailable(db) -> None:
    with pytest.raises(SearchUnavailable, match="no analysed products yet"):
        similar_to_photo(image_bytes(), embedder=Embedder(seed=0))
