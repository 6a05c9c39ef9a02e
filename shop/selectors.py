"""Reads of the catalogue: filtered product lists, facet counts, product pages."""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import reduce

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.http import QueryDict

from shop.attributes import ATTRIBUTES
from shop.models import CatalogueVersion, Product

# Facet parameter → (model field, label), in sidebar order.
FACETS: dict[str, tuple[str, str]] = {a.param: (a.field, a.label) for a in ATTRIBUTES}

SORTS: dict[str, tuple[str, list]] = {
    "newest": ("Newest", [F("year").desc(nulls_last=True), "-id"]),
    "name": ("Name A–Z", ["name", "id"]),
    "-name": ("Name Z–A", ["-name", "-id"]),
    "price": ("Price: low to high", [F("price").asc(nulls_last=True), "id"]),
    "-price": ("Price: high to low", [F("price").desc(nulls_last=True), "-id"]),
}
DEFAULT_SORT = "newest"
FACET_CACHE_SECONDS = 60


@dataclass
class CatalogueQuery:
    """What the shopper asked for: text, facet selections (several values per facet
    combine with OR, facets with AND) and the sort order."""

    text: str = ""
    selected: dict[str, list[str]] = field(default_factory=dict)
    sort: str = DEFAULT_SORT
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    @classmethod
    def from_querydict(cls, params: QueryDict) -> CatalogueQuery:
        selected = {}
        for key in FACETS:
            values = [v for v in params.getlist(key) if v][:20]
            if values:
                selected[key] = values
        sort = params.get("sort", DEFAULT_SORT)
        return cls(
            text=params.get("q", "").strip()[:100],
            selected=selected,
            sort=sort if sort in SORTS else DEFAULT_SORT,
            min_price=_price_param(params.get("min_price")),
            max_price=_price_param(params.get("max_price")),
        )

    @property
    def price_filtered(self) -> bool:
        return self.min_price is not None or self.max_price is not None

    def cache_key(self, *, without: str | None = None) -> str:
        parts = [self.text.lower(), f"price={self.min_price}-{self.max_price}"] + [
            f"{key}={'|'.join(sorted(values))}" for key, values in sorted(self.selected.items()) if key != without
        ]
        return hashlib.sha1("&".join(parts).encode()).hexdigest()


def _price_param(value: str | None) -> Decimal | None:
    """A price bound from the query string; anything that is not a sane amount is ignored."""
    if not value:
        return None
    try:
        price = Decimal(value.strip()[:12])
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and 0 <= price < Decimal("1e8") else None


def _price_filter(query: CatalogueQuery) -> Q:
    conditions = Q()
    if query.min_price is not None:
        conditions &= Q(price__gte=query.min_price)
    if query.max_price is not None:
        conditions &= Q(price__lte=query.max_price)
    return conditions


def _text_filter(text: str) -> Q:
    """Every word must start a word of the name: "shirt" finds "Blue Shirt", not "Tshirt".
    The pattern is valid both as a PostgreSQL regex (trigram-indexed) and a Python one (SQLite)."""
    words = text.split()[:8]
    return reduce(operator.and_, (Q(name__iregex=rf"(^|[^a-z0-9]){re.escape(word)}") for word in words), Q())


def _facet_filter(query: CatalogueQuery, *, without: str | None = None) -> Q:
    conditions = Q()
    for key, values in query.selected.items():
        if key != without:
            conditions &= Q(**{f"{FACETS[key][0]}__in": values})
    return conditions


def product_list(query: CatalogueQuery) -> QuerySet[Product]:
    """Active products matching the query, in its sort order."""
    products = Product.objects.filter(is_active=True)
    if query.text:
        products = products.filter(_text_filter(query.text))
    return (
        products.filter(_facet_filter(query), _price_filter(query))
        .order_by(*SORTS[query.sort][1])
        .prefetch_related("variants")
    )


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


def facet_counts(query: CatalogueQuery, catalogue_version: str) -> dict[str, list[FacetValue]]:
    """For each facet, its values with counts. A facet's counts apply every other filter but
    its own, so the shopper sees the alternatives to what they picked. Cached per process,
    keyed by the catalogue's version so edits show at once."""
    facets: dict[str, list[FacetValue]] = {}
    base = Product.objects.filter(is_active=True).filter(_price_filter(query))
    if query.text:
        base = base.filter(_text_filter(query.text))
    for key, (field_name, _label) in FACETS.items():
        cache_key = f"facets:{catalogue_version}:{key}:{query.cache_key(without=key)}"
        counts = cache.get(cache_key)
        if counts is None:
            rows = (
                base.filter(_facet_filter(query, without=key))
                .exclude(**{field_name: ""})
                .values_list(field_name)
                .annotate(n=Count("id"))
                .order_by("-n", field_name)
            )
            counts = list(rows)
            cache.set(cache_key, counts, FACET_CACHE_SECONDS)
        chosen = set(query.selected.get(key, []))
        facets[key] = [FacetValue(value, n, value in chosen) for value, n in counts]
    return facets


def product_count(query: CatalogueQuery, catalogue_version: str) -> int:
    """How many products match (cached per process like the facet counts)."""
    key = f"count:{catalogue_version}:{query.cache_key()}"
    count = cache.get(key)
    if count is None:
        count = product_list(query).count()
        cache.set(key, count, FACET_CACHE_SECONDS)
    return count


def catalogue_version() -> str:
    """Changes whenever a product is added, edited or deleted (facet cache key)."""
    version = CatalogueVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return str(version or 0)


def product_get(product_id: int) -> Product | None:
    return Product.objects.filter(pk=product_id, is_active=True).prefetch_related("variants").first()


def product_more_in_category(product: Product, limit: int = 6) -> list[Product]:
    return list(
        Product.objects.filter(is_active=True, article_type=product.article_type, gender=product.gender)
        .exclude(pk=product.pk)
        .order_by("-id")
        .prefetch_related("variants")[:limit]
    )
