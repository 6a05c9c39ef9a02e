"""Reads of the catalogue: filtered product lists, text search, facet counts, product pages,
the home page's rows."""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import reduce

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, Exists, Expression, F, OuterRef, Q, QuerySet, Value, When
from django.http import QueryDict

from shop.attributes import ATTRIBUTES
from shop.models import CatalogueVersion, Product, ProductVariant

# Facet parameter → (model field, label), in sidebar order.
FACETS: dict[str, tuple[str, str]] = {a.param: (a.field, a.label) for a in ATTRIBUTES}

# The "relevance" order is the text search's (see product_list); without text it is "newest".
RELEVANCE = "relevance"
SORTS: dict[str, tuple[str, list]] = {
    RELEVANCE: ("Relevance", [F("year").desc(nulls_last=True), "-id"]),
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


# --- Text search ------------------------------------------------------------------------------
#
# PostgreSQL: full-text search over the stored, GIN-indexed ``search_vector`` column (migration
# 0007: name A, article type B, colour and sub category C, gender D; 'english' stemming, so
# "kurtas", "watches", "dresses" find "Kurtas", "Watches", "Dresses"). Every word must match
# (AND), the last one also as a prefix while the shopper is still typing ("nik" → Nike), and
# results are ranked with ts_rank (the "Relevance" sort).
#
# Typos: when the whole query finds fewer than FUZZY_BELOW products, each word the catalogue
# hardly knows (fewer than FUZZY_BELOW products alone, 4+ letters) is widened to the catalogue's
# own words closest to it by pg_trgm similarity ("tshrt" → tshirt, "kurtha" → kurta, kurti).
# The catalogue's words are the lexemes of the search vectors (names, article types...,
# ``ts_stat``); the search itself stays an indexed full-text match, so every query on the page
# (products, count, facets) is as fast as an ordinary one. The plan is cached per catalogue
# version and text.
#
# SQLite (the embedded default, small catalogues): every word must start a word of the name,
# article type, colour or gender, after simple plural stripping ("kurtas" → "kurta",
# "watches" → "watch"); relevance puts products whose name holds every word first.

FUZZY_BELOW = 3
FUZZY_SIMILARITY = 0.3  # pg_trgm similarity of a typo to a catalogue word
FUZZY_SPREAD = 0.1  # keep the catalogue words this close to the best one
FUZZY_MAX_WORDS = 3
MAX_WORDS = 8
TEXT_PLAN_CACHE_SECONDS = 60

# Spellings shoppers use for the catalogue's words, applied to the lower-cased query.
_SYNONYMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bt[\s-]?shirts?\b|\btees?\b"), "tshirts"),
    (re.compile(r"\bsweat[\s-]shirts?\b"), "sweatshirts"),
    (re.compile(r"\bflip[\s-]flops?\b"), "flip flops"),
    (re.compile(r"\btrack[\s-]?pants?\b"), "track pants"),
    (re.compile(r"\bsun[\s-]glass(es)?\b"), "sunglasses"),
    (re.compile(r"\b(wo)?men['’]s\b"), r"\1men"),
    (re.compile(r"\b(kids?|children|childrens)\b"), "kids"),
)
# A query word standing for several catalogue words (any of them).
_ALTERNATIVES: dict[str, tuple[str, ...]] = {"kids": ("boys", "girls")}
_VOCABULARY_SQL = """
    SELECT word FROM (
        SELECT word, ndoc, similarity(%s, word) AS score
        FROM ts_stat('SELECT search_vector FROM shop_product WHERE is_active')
        WHERE ndoc >= %s AND length(word) >= 3
    ) words
    WHERE score > %s AND score >= (
        SELECT max(similarity(%s, word)) FROM ts_stat('SELECT search_vector FROM shop_product WHERE is_active')
        WHERE ndoc >= %s AND length(word) >= 3
    ) - %s
    ORDER BY score DESC, ndoc DESC
    LIMIT %s
"""


def search_words(text: str) -> list[str]:
    """The query's words: lower case, shoppers' spellings normalised, letters and digits only."""
    normalised = text.lower()
    for pattern, replacement in _SYNONYMS:
        normalised = pattern.sub(replacement, normalised)
    return re.findall(r"[a-z0-9]+", normalised)[:MAX_WORDS]


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


class SearchVectorColumn(Expression):
    """The product table's ``search_vector`` column (PostgreSQL only; not a model field)."""

    def __init__(self) -> None:
        from django.contrib.postgres.search import SearchVectorField

        super().__init__(output_field=SearchVectorField())

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(compiler.query.base_table)}.search_vector", []


def _word_query(word: str, *, prefix: bool = False):
    """One query word as a tsquery ('english' stemming; the words are [a-z0-9]+ only)."""
    from django.contrib.postgres.search import SearchQuery

    options = _ALTERNATIVES.get(word, (word,))
    suffix = ":*" if prefix and len(word) >= 3 and word not in _ALTERNATIVES else ""
    return SearchQuery(" | ".join(f"{o}{suffix}" for o in options), search_type="raw", config="english")


@dataclass(frozen=True)
class TextSearch:
    """How one query's text is searched: its words, and for the words the catalogue does not
    know, the catalogue words (lexemes) close to them."""

    words: tuple[str, ...]
    corrections: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def close_matches(self) -> list[str]:
        """The catalogue words a typo was widened to (to say so on the page)."""
        return [lexeme for _word, lexemes in self.corrections for lexeme in lexemes]

    def tsquery(self):
        from django.contrib.postgres.search import SearchQuery

        corrected = dict(self.corrections)
        query = None
        for i, word in enumerate(self.words):
            term = _word_query(word, prefix=i == len(self.words) - 1)
            if corrected.get(word):
                term = term | SearchQuery(" | ".join(corrected[word]), search_type="raw", config="simple")
            query = term if query is None else query & term
        return query

    def condition(self) -> Q:
        if not self.words:
            return Q()
        if not _is_postgresql():
            return _word_start_condition(list(self.words))
        from django.contrib.postgres.search import SearchVectorExact

        return Q(SearchVectorExact(SearchVectorColumn(), self.tsquery()))

    def relevance(self) -> list:
        """ORDER BY terms, best first (the sort's own terms break ties)."""
        if not self.words:
            return []
        if not _is_postgresql():
            in_name = reduce(operator.and_, (Q(name__iregex=_word_start(w)) for w in _sqlite_words(self.words)))
            return [Case(When(in_name, then=Value(1)), default=Value(0)).desc()]
        from django.contrib.postgres.search import SearchRank

        return [SearchRank(SearchVectorColumn(), self.tsquery()).desc()]


def text_search(text: str, catalogue_version: str = "") -> TextSearch:
    """The plan for searching ``text``. On PostgreSQL one aggregate query counts the matches of
    the whole query and of each word; when the whole finds fewer than FUZZY_BELOW products,
    the unknown words are looked up among the catalogue's words (cached per catalogue version)."""
    words = tuple(search_words(text))
    if not words or not _is_postgresql():
        return TextSearch(words)
    key = "textsearch:" + hashlib.sha1(f"{catalogue_version}:{' '.join(words)}".encode()).hexdigest()
    corrections = cache.get(key)
    if corrections is None:
        corrections = _corrections(words)
        cache.set(key, corrections, TEXT_PLAN_CACHE_SECONDS)
    return TextSearch(words, corrections)


def _corrections(words: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from django.contrib.postgres.search import SearchVectorExact

    def matching(query) -> Q:
        return Q(SearchVectorExact(SearchVectorColumn(), query))

    word_queries = [_word_query(w, prefix=i == len(words) - 1) for i, w in enumerate(words)]
    counts = (
        Product.objects.filter(is_active=True)
        .filter(reduce(operator.or_, (matching(q) for q in word_queries)))
        .aggregate(
            all=Count("pk", filter=matching(TextSearch(words).tsquery())),
            **{f"w{i}": Count("pk", filter=matching(q)) for i, q in enumerate(word_queries)},
        )
    )
    if counts["all"] >= FUZZY_BELOW:
        return ()
    corrections = []
    for i, word in enumerate(words):
        if counts[f"w{i}"] < FUZZY_BELOW and len(word) >= 4 and word not in _ALTERNATIVES:
            with connection.cursor() as cursor:
                cursor.execute(
                    _VOCABULARY_SQL,
                    [word, FUZZY_BELOW, FUZZY_SIMILARITY, word, FUZZY_BELOW, FUZZY_SPREAD, FUZZY_MAX_WORDS],
                )
                lexemes = tuple(row[0] for row in cursor.fetchall() if re.fullmatch(r"[a-z0-9]+", row[0]))
            if lexemes:
                corrections.append((word, lexemes))
    return tuple(corrections)


def _plural_stripped(word: str) -> str:
    """ "dresses" → "dress", "watches" → "watch", "kurtas" → "kurta", "shoes" → "shoe"."""
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _sqlite_words(words: tuple[str, ...] | list[str]) -> list[str]:
    return [_plural_stripped(w) for w in words]


def _word_start(word: str) -> str:
    """A regex (valid for PostgreSQL and Python) for ``word`` at the start of a word."""
    return rf"(^|[^a-z0-9]){re.escape(word)}"


def _word_start_condition(words: list[str]) -> Q:
    """SQLite: every word (or one of its alternatives) starts a word of the name, article type,
    colour or gender."""
    condition = Q()
    for word in words:
        options = _ALTERNATIVES.get(word, (word,))
        either = Q()
        for option in _sqlite_words(list(options)):
            pattern = _word_start(option)
            for field_name in ("name", "article_type", "base_colour", "gender"):
                either |= Q(**{f"{field_name}__iregex": pattern})
        condition &= either
    return condition


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
    its own, so the shopper sees the alternatives to what they picked. Cached per process,
    keyed by the catalogue's version so edits show at once."""
    facets: dict[str, list[FacetValue]] = {}
    base = Product.objects.filter(is_active=True).filter(_price_filter(query))
    if query.text:
        base = base.filter(text_search(query.text, catalogue_version).condition())
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
        count = product_list(query, catalogue_version).count()
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


# --- The home page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HomeSection:
    """An entry point of the home page: a row of products and the catalogue filter it opens."""

    key: str
    title: str
    params: tuple[tuple[str, str], ...]  # catalogue query-string parameters
    condition: Q


HOME_SECTIONS: tuple[HomeSection, ...] = (
    HomeSection(
        "women", "Women", (("gender", "Women"), ("master", "Apparel")), Q(gender="Women", master_category="Apparel")
    ),
    HomeSection("men", "Men", (("gender", "Men"), ("master", "Apparel")), Q(gender="Men", master_category="Apparel")),
    HomeSection("kids", "Kids", (("gender", "Boys"), ("gender", "Girls")), Q(gender__in=["Boys", "Girls"])),
    HomeSection("footwear", "Footwear", (("master", "Footwear"),), Q(master_category="Footwear")),
    HomeSection("accessories", "Accessories", (("master", "Accessories"),), Q(master_category="Accessories")),
)
HOME_ROW_LENGTH = 6
HOME_CACHE_SECONDS = 300


def home_rows(catalogue_version: str, per_row: int = HOME_ROW_LENGTH) -> list[tuple[HomeSection, list[Product]]]:
    """For each home section, a row of its newest products, varied (at most two of one article
    type). The rows' ids are cached per catalogue version; the products themselves are one
    query (and one for their sizes)."""
    key = f"home:{catalogue_version}:{per_row}"
    ids_by_section: dict[str, list[int]] | None = cache.get(key)
    if ids_by_section is None:
        ids_by_section = {}
        for section in HOME_SECTIONS:
            candidates = (
                Product.objects.filter(section.condition, is_active=True)
                .order_by(*SORTS[DEFAULT_SORT][1])
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
            ids_by_section[section.key] = picked
        cache.set(key, ids_by_section, HOME_CACHE_SECONDS)
    all_ids = [pk for ids in ids_by_section.values() for pk in ids]
    products = Product.objects.filter(is_active=True).prefetch_related("variants").in_bulk(all_ids) if all_ids else {}
    return [
        (section, [products[pk] for pk in ids_by_section.get(section.key, []) if pk in products])
        for section in HOME_SECTIONS
    ]


def product_in_stock_expression(product_ref: str = "pk") -> Exists:
    """SQL for "some size of the product (``OuterRef(product_ref)``) has stock", to annotate
    rows of any model that points at a product (``Product.in_stock`` computes the same from
    loaded sizes)."""
    return Exists(ProductVariant.objects.filter(product_id=OuterRef(product_ref), stock__gt=0))
