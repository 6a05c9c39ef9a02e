"""``{% discovery_rows as rows %}``: the shopper's "Recently viewed" and "Inspired by what you
viewed" rows, for discovery's hook templates (the pages that offer the places know nothing of
discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django import template

from discovery.selectors import inspired_by, recently_viewed, recently_viewed_ids
from shop.models import Product

register = template.Library()


@dataclass
class DiscoveryRows:
    recent: list[Product] = field(default_factory=list)
    inspired: list[Product] = field(default_factory=list)


def _bag_product_ids(bag: object) -> set[int]:
    """The products in a bag summary (its ``lines``, each with a ``product``), left out of
    "Inspired by" on the bag page."""
    lines: Iterable[object] = getattr(bag, "lines", None) or []
    return {product.pk for line in lines if (product := getattr(line, "product", None)) is not None}


@register.simple_tag(takes_context=True)
def discovery_rows(
    context: template.Context, *, exclude: Product | None = None, bag: object = None, inspired: bool = True
) -> DiscoveryRows:
    """The rows for this request's session: recently viewed (without ``exclude``, the product
    on the page) and, with ``inspired``, lookalikes of what was viewed (without what is in the
    ``bag``). Both empty when nothing was viewed."""
    request = context.get("request")
    session = getattr(request, "session", None)
    if session is None:
        return DiscoveryRows()
    viewed = recently_viewed_ids(session)
    if not viewed:
        return DiscoveryRows()
    rows = DiscoveryRows(recent=recently_viewed(viewed, exclude=exclude.pk if exclude is not None else None))
    if inspired:
        in_bag = _bag_product_ids(bag)
        rows.inspired = inspired_by(viewed, exclude=in_bag)
    return rows
