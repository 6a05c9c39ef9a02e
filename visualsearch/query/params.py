"""A search's parameters from a request: how many results (k) and the filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import InvalidInput
from shop.attributes import STOCK_FIELD
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.selectors import IN_STOCK_PARAM, PHOTO_FILTERS, REFINEMENTS, refinement_on


def clamp_k(raw: str | int | None, default: int = 5) -> int:
    """k from a request: a whole number from 1 to VISUALSEARCH_MAX_K (InvalidInput otherwise)."""
    if raw in (None, ""):
        return min(default, vs_settings.MAX_K)
    try:
        k = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("k must be a whole number.") from None
    if k < 1:
        raise InvalidInput("k must be at least 1.")
    return min(k, vs_settings.MAX_K)


def refinement_filters(product: Product, toggles: Mapping[str, object]) -> dict[str, Any]:
    """The product's own values for each refinement the shopper switched on, and "in stock
    only" (``in_stock``) when it is on."""
    filters: dict[str, Any] = {
        field_name: getattr(product, field_name)
        for key, (field_name, _label) in REFINEMENTS.items()
        if refinement_on(toggles.get(key))
    }
    return filters | _stock_filter(toggles)


def explicit_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Photo-search restrictions chosen from the form or query string."""
    filters = {field_name: params[key] for key, field_name in PHOTO_FILTERS.items() if params.get(key)}
    return filters | _stock_filter(params)


def _stock_filter(params: Mapping[str, object]) -> dict[str, Any]:
    return {STOCK_FIELD: True} if refinement_on(params.get(IN_STOCK_PARAM)) else {}
