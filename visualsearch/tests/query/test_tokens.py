"""visualsearch.query.tokens: the query kept for refining, in the real cache (Redis where the
settings name it), under a random token."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.errors import InvalidInput
from visualsearch.ml.colour import COLOUR_DIM
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.query import tokens
from visualsearch.query.errors import QueryExpired
from visualsearch.query.tokens import StoredQuery, load_query, query_cache, store_query


@pytest.fixture(autouse=True)
def _empty_query_cache() -> Iterator[None]:
    yield
    query_cache().clear()


def a_query(model_version: str = MODEL_VERSION, *, colour: bool = True) -> StoredQuery:
    rng = np.random.default_rng(0)
    return StoredQuery(
        vector=rng.standard_normal((2, 2048)).astype(np.float32),
        colour=rng.random((2, COLOUR_DIM)).astype(np.float32) if colour else None,
        box=(0.1, 0.2, 0.8, 0.9),
        preview_data_url="data:image/jpeg;base64,AAAA",
        model_version=model_version,
    )


def test_a_kept_query_comes_back_under_its_token() -> None:
    query = a_query()
    token = store_query(query)
    assert 16 <= len(token) <= 64 and token != store_query(query)  # a new random token each time
    kept = load_query(token)
    np.testing.assert_array_equal(kept.vector, query.vector.ravel())
    assert kept.colour is not None
    np.testing.assert_array_equal(kept.colour, query.colour.ravel())  # type: ignore[union-attr]
    assert kept.box == query.box
    assert kept.preview_data_url == query.preview_data_url and kept.model_version == MODEL_VERSION


def test_a_query_without_colour_keeps_none() -> None:
    assert load_query(store_query(a_query(colour=False))).colour is None


@pytest.mark.parametrize("token", ["", "short", "not a token!", "../../etc/passwd/../../x", "x" * 65])
def test_a_malformed_token_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput, match="q must be the token"):
        load_query(token)


def test_an_unknown_token_or_another_models_query_has_expired(settings) -> None:
    settings.VISUALSEARCH_QUERY_TOKEN_SECONDS = 600
    with pytest.raises(QueryExpired, match=r"kept for 10 minutes\)\. Please search again"):
        load_query("x" * 24)
    with pytest.raises(QueryExpired):
        load_query(store_query(a_query("another-model")))


def test_without_the_cache_no_token_is_kept_and_none_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    class Down:
        def set(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("Redis is down")

        def get(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("Redis is down")

    token = store_query(a_query())
    monkeypatch.setattr(tokens, "query_cache", lambda: Down())
    assert store_query(a_query()) == ""
    with pytest.raises(QueryExpired):
        load_query(token)
