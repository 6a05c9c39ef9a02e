"""visualsearch.query.params: k and the filters from a request."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import InvalidInput
from shop.attributes import STOCK_FIELD
from shop.models import Product
from visualsearch.query.params import clamp_k, explicit_filters, refinement_filters
from visualsearch.selectors import IN_STOCK_PARAM, PHOTO_FILTERS, REFINEMENTS


@pytest.mark.parametrize(("raw", "k"), [(None, 5), ("", 5), ("1", 1), (7, 7), ("20", 20), ("10000", 20)])
def test_k_is_a_whole_number_up_to_max_k(settings, raw: object, k: int) -> None:
    settings.VISUALSEARCH_MAX_K = 20
    assert clamp_k(raw) == k  # type: ignore[arg-type]


def test_the_default_k_is_capped_too(settings) -> None:
    settings.VISUALSEARCH_MAX_K = 3
    assert clamp_k(None) == 3
    assert clamp_k(None, default=2) == 2


@pytest.mark.parametrize(("raw", "words"), [("abc", "whole number"), ("2.5", "whole number"), ("0", "at least 1")])
def test_a_bad_k_says_what_is_wrong(raw: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        clamp_k(raw)


def test_explicit_filters_keep_the_chosen_values_and_stock() -> None:
    key, field = next(iter(PHOTO_FILTERS.items()))
    assert explicit_filters({}) == {}
    assert explicit_filters({key: "", IN_STOCK_PARAM: "0"}) == {}
    assert explicit_filters({key: "Blue", "unknown": "x", IN_STOCK_PARAM: "on"}) == {field: "Blue", STOCK_FIELD: True}


def test_refinements_take_the_products_own_values(make_product: Callable[..., Product]) -> None:
    product = make_product()
    (key, (field, _label)), *_rest = REFINEMENTS.items()
    assert refinement_filters(product, {}) == {}
    assert refinement_filters(product, {key: "off"}) == {}
    assert refinement_filters(product, {key: "on"}) == {field: getattr(product, field)}
    assert refinement_filters(product, {key: "1", IN_STOCK_PARAM: "on"}) == {
        field: getattr(product, field),
        STOCK_FIELD: True,
    }
