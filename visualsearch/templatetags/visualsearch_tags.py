"""Template tags of visual search for the shop's hook places."""

from __future__ import annotations

from django import template

from core.errors import ApplicationError
from shop.models import Product
from visualsearch.query.similar import SimilarResult, similar_to_product
from visualsearch.selectors import IN_STOCK_PARAM

register = template.Library()


@register.simple_tag
def similar_in_stock(product: Product, k: int = 5) -> SimilarResult | None:
    """The k products most like ``product`` that can be bought now (for a sold-out product's
    page); None when visual search cannot answer (not analysed yet, empty index)."""
    try:
        return similar_to_product(product, k=k, toggles={IN_STOCK_PARAM: "on"})
    except ApplicationError:
        return None
