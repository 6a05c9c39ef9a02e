"""Text search on a fixed subset of the real catalogue (PostgreSQL full-text search, ranked,
with the typo widening): the table below is the contract. The subset: 300 rows spread over
the 20 commonest article types (tests.support.catalogue.catalogue_rows), plus the first 12
dresses and 12 other kids' products not among them — 324 products, saved in bulk (the search vector
is a generated column: PostgreSQL fills it whatever writes the row)."""

from __future__ import annotations

import csv
import functools

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from shop import search as catalogue_search
from shop import selectors
from tests.support.catalogue import catalogue_dir, catalogue_rows, product_fields

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached counts, plans and home rows are keyed by the catalogue version, which starts
    again in every test's rolled-back database: start each test with an empty cache."""
    from django.core.cache import cache

    cache.clear()


@functools.cache
def subset_rows() -> tuple[dict[str, str], ...]:
    rows = catalogue_rows(300)
    ids = {r["id"] for r in rows}
    with (catalogue_dir() / "styles.csv").open(newline="", encoding="utf-8") as handle:
        everything = [r for r in csv.DictReader(handle) if r["id"] not in ids]
    dresses = [r for r in everything if r["articleType"] == "Dresses"][:12]
    kids = [r for r in everything if r["gender"] in {"Boys", "Girls"} and r not in dresses][:12]
    return tuple(rows + dresses + kids)


@pytest.fixture
def subset(db):
    from shop.models import Product

    Product.objects.bulk_create(
        Product(**product_fields(row), usage=row["usage"], image=f"products/{row['id']}.jpg") for row in subset_rows()
    )
    return len(subset_rows())


def search(text: str) -> list:
    params = QueryDict(mutable=True)
    params["q"] = text
    query = selectors.CatalogueQuery.from_querydict(params)
    return list(selectors.product_list(query, "test"))


# query → (expected number of results, what the first result must be: "Type" (article type)
# or a word of its name, case-insensitive).
TABLE: list[tuple[str, int, str]] = [
    # plurals and stemming: the name-only word-start search found 0 or a few of these
    ("kurtas", 15, "type:Kurtas"),
    ("dresses", 12, "type:Dresses"),
    ("watches", 15, "type:Watches"),
    ("tshirts", 19, "type:Tshirts"),
    ("t-shirts", 19, "type:Tshirts"),
    ("t shirt", 19, "type:Tshirts"),
    ("tees", 19, "type:Tshirts"),
    ("jeans", 16, "type:Jeans"),
    ("heels", 15, "type:Heels"),
    ("sunglasses", 15, "type:Sunglasses"),
    # words and attributes combined
    ("pink dress", 2, "name:pink"),
    ("men black shoes", 21, "name:shoes"),
    ("women watch", 3, "name:women"),
    ("blue jeans", 7, "type:Jeans"),
    ("men's wallet", 7, "type:Wallets"),
    ("kids", 26, "gender:"),
    ("girls", 15, "gender:Girls"),
    ("formal shoes", 15, "type:Formal Shoes"),
    # typos: trigram similarity to the catalogue's own words
    ("tshrt", 19, "type:Tshirts"),
    ("kurtha", 15, "type:Kurtas"),
    ("sunglases", 15, "type:Sunglasses"),
    ("puma tshrt", 3, "name:puma"),
    # prefixes while typing, brands, nothing
    ("nik", 12, "name:nike"),
    ("adidas", 18, "name:adidas"),
    ("zzqqxx", 0, ""),
]


@pytest.mark.parametrize(("text", "count", "top"), TABLE, ids=[row[0] for row in TABLE])
def test_search_table(subset, text: str, count: int, top: str) -> None:
    results = search(text)
    assert len(results) == count, [p.name for p in results[:10]]
    if not top:
        return
    kind, _, expected = top.partition(":")
    first = results[0]
    if kind == "type":
        assert first.article_type == expected, (first.name, first.article_type)
    elif kind == "gender":
        assert first.gender in ({expected} if expected else {"Boys", "Girls"}), (first.name, first.gender)
    else:
        assert expected in first.name.lower(), first.name


def test_relevance_ranks_name_and_type_matches_above_colour_or_gender_only(subset) -> None:
    """ "black" is a colour of many products; those whose name says "black" come first."""
    results = search("black")
    named = ["black" in p.name.lower() for p in results]
    assert len(results) == 102 and True in named and False in named
    assert named == sorted(named, reverse=True)


def test_relevance_is_the_default_sort_with_text_and_newest_without(subset) -> None:
    with_text = selectors.CatalogueQuery.from_querydict(QueryDict("q=shirt"))
    assert with_text.sort == selectors.RELEVANCE
    assert selectors.CatalogueQuery.from_querydict(QueryDict("")).sort == "newest"
    # "relevance" without text falls back to the default order.
    assert selectors.CatalogueQuery.from_querydict(QueryDict("sort=relevance")).sort == "newest"
    by_name = selectors.CatalogueQuery.from_querydict(QueryDict("q=shirt&sort=name"))
    names = [p.name for p in selectors.product_list(by_name, "test")]
    assert names == sorted(names)


def test_typo_plan_is_one_query_and_cached(subset) -> None:
    with CaptureQueriesContext(connection) as first:
        plan = catalogue_search.text_search("kurtha", "v1")
    assert plan.close_matches and "kurta" in plan.close_matches
    assert len(first) == 2  # the counts, then the catalogue's words close to "kurtha"
    with CaptureQueriesContext(connection) as again:
        assert catalogue_search.text_search("kurtha", "v1") == plan
    assert len(again) == 0
    with CaptureQueriesContext(connection) as known:
        assert catalogue_search.text_search("kurtas", "v1").close_matches == []
    assert len(known) == 1


def test_the_search_condition_can_use_the_gin_index(subset) -> None:
    """The text condition is an indexable ``search_vector @@ tsquery``: with sequential scans
    off, PostgreSQL answers it from the GIN index (on 43k products it does so by itself)."""
    from shop.models import Product

    condition = catalogue_search.text_search("red dress", "test").condition()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Product.objects.filter(condition).explain()
    assert "shop_product_search_vector" in plan


def test_catalogue_page_search_shows_close_matches_and_relevance(client, subset) -> None:
    response = client.get("/catalogue/", {"q": "kurtha"})
    body = response.content.decode()
    assert response.context["page"].paginator.count == 15
    assert "Including close matches: kurta" in body
    assert '<option value="relevance" selected>Relevance</option>' in body


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("T-Shirts", ["tshirts"]),
        ("tee", ["tshirts"]),
        ("Men's  Sweat-shirts!", ["men", "sweatshirts"]),
        ("children", ["kids"]),
        ("a\x00b <script>", ["a", "b", "script"]),
    ],
)
def test_search_words_normalise_shoppers_spellings(text: str, words: list[str]) -> None:
    assert catalogue_search.search_words(text) == words


@pytest.mark.parametrize(
    ("word", "stripped"),
    [
        ("dresses", "dress"),
        ("watches", "watch"),
        ("kurtas", "kurta"),
        ("shoes", "shoe"),
        ("accessories", "accessory"),
        ("jeans", "jean"),
        ("glass", "glass"),
        ("men", "men"),
    ],
)
def test_sqlite_fallback_strips_simple_plurals(word: str, stripped: str) -> None:
    assert catalogue_search._plural_stripped(word) == stripped
