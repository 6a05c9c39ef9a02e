"""Reads of the catalogue: filtered product lists, facet counts, product pages, the home page's
rows. (How text is matched and ranked: ``shop.search``.)"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.cache import cache
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import QueryDict

from shop.attributes import ATTRIBUTES
from shop.caching import catalogue_cached
from shop.models import CatalogueVersion, Product, ProductVariant
from shop.search import text_search

# Facet parameter → (model field, label), in sidebar order.
FACETS: dict[str, tuple[str, str]] = {a.param: (a.field, a.label) for a in ATTRIBUTES}

# The "relevance" order is the text search's (see product_list); without text it is "newest".
# "Newest" is when the product was added to the shop (``created``; the import adds in file
# order), not the catalogue's ``year``: a product staff add today is new in.
RELEVANCE = "relevance"
NEWEST_ORDER: list[str | OrderBy] = [F("created").desc(), "-id"]
# A sale's discount as a fraction of the compare-at price (NULL when not on sale).
DISCOUNT = ExpressionWrapper(
    (F("compare_at_price") - F("price")) / F("compare_at_price"),
    output_field=DecimalField(max_digits=12, decimal_places=6),
)
SORTS: dict[str, tuple[str, list]] = {
    RELEVANCE: ("Relevance", NEWEST_ORDER),
    "newest": ("Newest", NEWEST_ORDER),
    "name": ("Name A–Z", ["name", "id"]),
    "-name": ("Name Z–A", ["-name", "-id"]),
    "price": ("Price: low to high", [F("price").asc(nulls_last=True), "id"]),
    "-price": ("Price: high to low", [F("price").desc(nulls_last=True), "-id"]),
    "discount": ("Biggest discount", [DISCOUNT.desc(nulls_last=True), "-id"]),
}
# The "Sale" filter's query-string parameter: only products with a compare-at price.
SALE_PARAM = "sale"
DEFAULT_SORT = "newest"


@dataclass
class CatalogueQuery:
    """What the shopper asked for: text, facet selections (several values per facet
    combine with OR, facets with AND) and the sort order."""

    text: str = ""
    selected: dict[str, list[str]] = field(default_factory=dict)
    sort: str = DEFAULT_SORT
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    on_sale: bool = False

    @classmethod
    def from_querydict(cls, params: QueryDict) -> CatalogueQuery:
        selected = {}
        for key in FACETS:
            values = [v for v in params.getlist(key) if v][:20]
            if values:
                selected[key] = values
        text = params.get("q", "").strip()[:100]
        sort = params.get("sort") or (RELEVANCE if text else DEFAULT_SORT)
        if sort not in SORTS or (sort == RELEVANCE and not text):
            sort = RELEVANCE if text else DEFAULT_SORT
        return cls(
            text=text,
            selected=selected,
            sort=sort,
            min_price=_price_param(params.get("min_price")),
            max_price=_price_param(params.get("max_price")),
            on_sale=params.get(SALE_PARAM, "").strip().lower() in {"1", "on", "true", "yes"},
        )

    @property
    def price_filtered(self) -> bool:
        return self.min_price is not None or self.max_price is not None

    def cache_key(self, *, without: str | None = None) -> str:
        parts = [self.text.lower(), f"price={self.min_price}-{self.max_price}", f"sale={self.on_sale}"] + [
            f"{key}={'|'.join(sorted(values))}" for key, values in sorted(self.selected.items()) if key != without
        ]
        return hashlib.sha1("&".join(parts).encode()).hexdigest()


PRICE_STEP = Decimal("0.01")
PRICE_BOUND_LIMIT = Decimal("1e8")  # Product.price: 10 digits, 2 after the point


def _price_param(value: str | None) -> Decimal | None:
    """A price bound from the query string, kept to the price column's precision (two
    places, under 10^8): anything that is not a finite amount in that range is ignored. Without
    the rounding a bound like ``1e-999999999`` reached PostgreSQL and overflowed (a 500)."""
    if not value:
        return None
    try:
        price = Decimal(value.strip()[:12])
        if not price.is_finite() or not 0 <= price < PRICE_BOUND_LIMIT:
            return None
        return price.quantize(PRICE_STEP, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None


def _price_filter(query: CatalogueQuery) -> Q:
    """The price range and the "Sale" filter."""
    conditions = Q()
    if query.min_price is not None:
        conditions &= Q(price__gte=query.min_price)
    if query.max_price is not None:
        conditions &= Q(price__lte=query.max_price)
    if query.on_sale:
        conditions &= Q(compare_at_price__gt=F("price"))
    return conditions


def _facet_filter(query: CatalogueQuery, *, without: str | None = None) -> Q:
    conditions = Q()
    for key, values in query.selected.items():
        if key != without:
            conditions &= Q(**{f"{FACETS[key][0]}__in": values})
    return conditions


def product_list(query: CatalogueQuery, catalogue_version: str = "") -> QuerySet[Product]:
    """Active products matching the query, in its sort order (with text, "Relevance" ranks
    the best matches first)."""
    products = Product.objects.filter(is_active=True)
    order = list(SORTS[query.sort][1])
    if query.text:
        search = text_search(query.text, catalogue_version)
        products = products.filter(search.condition())
        if query.sort == RELEVANCE:
            order = search.relevance() + order
    return products.filter(_facet_filter(query), _price_filter(query)).order_by(*order).prefetch_related("variants")


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


def facet_counts(query: CatalogueQuery, catalogue_version: str) -> dict[str, list[FacetValue]]:
    """For each facet, its values with counts. A facet's counts apply every other filter but
    its own, so the shopper sees the alternatives to what they picked. Cached for every
    process (shop.caching), keyed by the catalogue's version so edits show at once."""
    facets: dict[str, list[FacetValue]] = {}
    base = Product.objects.filter(is_active=True).filter(_price_filter(query))
    if query.text:
        base = base.filter(text_search(query.text, catalogue_version).condition())
    for key, (field_name, _label) in FACETS.items():

        def count(key: str = key, field_name: str = field_name) -> list[tuple[str, int]]:
            rows = (
                base.filter(_facet_filter(query, without=key))
                .exclude(**{field_name: ""})
                .values_list(field_name)
                .annotate(n=Count("id"))
                .order_by("-n", field_name)
            )
            return list(rows)

        counts = catalogue_cached(f"facets:{catalogue_version}:{key}:{query.cache_key(without=key)}", count)
        chosen = set(query.selected.get(key, []))
        facets[key] = [FacetValue(value, n, value in chosen) for value, n in counts]
    return facets


def product_count(query: CatalogueQuery, catalogue_version: str) -> int:
    """How many products match (cached per catalogue version like the facet counts)."""
    return catalogue_cached(
        f"count:{catalogue_version}:{query.cache_key()}", lambda: product_list(query, catalogue_version).count()
    )


def catalogue_version() -> str:
    """Changes whenever a product is added, edited or deleted (facet cache key)."""
    version = CatalogueVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return str(version or 0)


def product_get(product_id: int, *, with_sizes: bool = True) -> Product | None:
    """An active product; with its sizes and more photos unless the caller shows neither (find
    similar's query product: one query instead of three)."""
    products = Product.objects.filter(pk=product_id, is_active=True)
    return (products.prefetch_related("variants", "images") if with_sizes else products).first()


def product_more_in_category(product: Product, limit: int = 6) -> list[Product]:
    return list(
        Product.objects.filter(is_active=True, article_type=product.article_type, gender=product.gender)
        .exclude(pk=product.pk)
        .order_by("-id")
        .prefetch_related("variants")[:limit]
    )


# --- The home page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HomeSection:
    """An entry point of the home page: a row of products and the catalogue filter it opens."""

    key: str
    title: str
    params: tuple[tuple[str, str], ...]  # catalogue query-string parameters
    condition: Q
    # The article types that show what the section is about, best first: the row opens with
    # (and the home tile shows) its newest product of one of these, so that "Women" does not
    # open with lingerie. Without any, the row's newest product leads.
    leading_types: tuple[str, ...] = ()


HOME_SECTIONS: tuple[HomeSection, ...] = (
    HomeSection(
        "women",
        "Women",
        (("gender", "Women"), ("master", "Apparel")),
        Q(gender="Women", master_category="Apparel"),
        ("Dresses", "Kurtas", "Tops", "Tunics", "Kurtis", "Tshirts", "Shirts", "Skirts", "Jeans", "Sarees"),
    ),
    HomeSection(
        "men",
        "Men",
        (("gender", "Men"), ("master", "Apparel")),
        Q(gender="Men", master_category="Apparel"),
        ("Shirts", "Tshirts", "Jackets", "Blazers", "Sweatshirts", "Jeans", "Trousers", "Kurtas"),
    ),
    HomeSection(
        "kids",
        "Kids",
        (("gender", "Boys"), ("gender", "Girls")),
        Q(gender__in=["Boys", "Girls"]),
        ("Tshirts", "Dresses", "Tops", "Shirts", "Shorts", "Frocks"),
    ),
    HomeSection(
        "footwear",
        "Footwear",
        (("master", "Footwear"),),
        Q(master_category="Footwear"),
        ("Casual Shoes", "Sports Shoes", "Heels", "Formal Shoes", "Sandals", "Flats"),
    ),
    HomeSection(
        "accessories",
        "Accessories",
        (("master", "Accessories"),),
        Q(master_category="Accessories"),
        ("Handbags", "Watches", "Sunglasses", "Wallets", "Belts", "Backpacks"),
    ),
)
HOME_ROW_LENGTH = 6
HOME_CACHE_SECONDS = 300


def home_rows(catalogue_version: str, per_row: int = HOME_ROW_LENGTH) -> list[tuple[HomeSection, list[Product]]]:
    """For each home section, a row of its newest products (by when they were added), varied (at most two of one article
    type). The rows' ids are cached per catalogue version; the products themselves are one
    query (and one for their sizes)."""
    key = f"home:{catalogue_version}:{per_row}"
    ids_by_section: dict[str, list[int]] | None = cache.get(key)
    if ids_by_section is None:
        ids_by_section = {}
        for section in HOME_SECTIONS:
            candidates = (
                Product.objects.filter(section.condition, is_active=True)
                .order_by(*NEWEST_ORDER)
                .values_list("pk", "article_type")[: per_row * 10]
            )
            picked: list[int] = []
            per_type: dict[str, int] = {}
            for pk, article_type in candidates:
                if per_type.get(article_type, 0) < 2:
                    per_type[article_type] = per_type.get(article_type, 0) + 1
                    picked.append(pk)
                if len(picked) == per_row:
                    break
            ids_by_section[section.key] = _representative_first(section, picked, dict(candidates))
        cache.set(key, ids_by_section, HOME_CACHE_SECONDS)
    all_ids = [pk for ids in ids_by_section.values() for pk in ids]
    products = Product.objects.filter(is_active=True).prefetch_related("variants").in_bulk(all_ids) if all_ids else {}
    return [
        (section, [products[pk] for pk in ids_by_section.get(section.key, []) if pk in products])
        for section in HOME_SECTIONS
    ]


def _representative_first(section: HomeSection, picked: list[int], types: dict[int, str]) -> list[int]:
    """The row ``picked`` (newest first) led by its newest product of the section's most
    preferred leading type that it has; when the row has none, by the section's newest product
    of a leading type (the row keeps its length); else unchanged."""
    if not section.leading_types or not picked:
        return picked
    rank = {article_type: i for i, article_type in enumerate(section.leading_types)}
    in_row = [pk for pk in picked if types.get(pk) in rank]
    if in_row:
        lead = min(in_row, key=lambda pk: rank[types[pk]])  # min keeps the newest of equal rank
        return [lead, *(pk for pk in picked if pk != lead)]
    newest = (
        Product.objects.filter(section.condition, is_active=True, article_type__in=section.leading_types)
        .order_by(*SORTS[DEFAULT_SORT][1])
        .values_list("pk", flat=True)
        .first()
    )
    return picked if newest is None else [newest, *picked[: len(picked) - 1]]


def product_in_stock_expression(product_ref: str = "pk") -> Exists:
    """SQL for "some size of the product (``OuterRef(product_ref)``) has stock", to annotate
    rows of any model that points at a product (``Product.in_stock`` computes the same from
    loaded sizes)."""
    return Exists(ProductVariant.objects.filter(product_id=OuterRef(product_ref), stock__gt=0))
