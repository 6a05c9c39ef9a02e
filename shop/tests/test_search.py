"""Text search on a fixed subset of the real catalogue, ranked, with the typo widening: the
table below is the contract, on both backends: PostgreSQL (the suite's database: full-text
search) and SQLite (the embedded default: FTS5 with the porter stemmer, in a real SQLite file,
``DATABASES["sqlite"]``, every model routed to it). The subset of 327 real products and the two
backends: tests.support.search_catalogue."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from shop import search as catalogue_search
from shop import selectors

pytestmark = pytest.mark.django_db(databases=["default", "sqlite"])


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
    ("dresses", 15, "type:Dresses"),
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
    ("red dress", 3, "name:red"),
    ("men black shoes", 21, "name:shoes"),
    ("women watch", 3, "name:women"),
    ("watch for women", 3, "name:women"),
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
    ("nike shoos", 4, "name:nike"),
    # prefixes while typing, brands, nothing
    ("nik", 12, "name:nike"),
    ("adidas", 18, "name:adidas"),
    ("zzqqxx", 0, ""),
]


@pytest.mark.parametrize(("text", "count", "top"), TABLE, ids=[row[0] for row in TABLE])
def test_search_table(search_subset, text: str, count: int, top: str) -> None:
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


def test_relevance_ranks_name_and_type_matches_above_colour_or_gender_only(search_subset) -> None:
    """ "black" is a colour of many products; those whose name says "black" come first."""
    results = search("black")
    named = ["black" in p.name.lower() for p in results]
    assert len(results) == 102 and True in named and False in named
    assert named == sorted(named, reverse=True)


def test_relevance_is_the_default_sort_with_text_and_newest_without(search_subset) -> None:
    with_text = selectors.CatalogueQuery.from_querydict(QueryDict("q=shirt"))
    assert with_text.sort == selectors.RELEVANCE
    assert selectors.CatalogueQuery.from_querydict(QueryDict("")).sort == "newest"
    # "relevance" without text falls back to the default order.
    assert selectors.CatalogueQuery.from_querydict(QueryDict("sort=relevance")).sort == "newest"
    by_name = selectors.CatalogueQuery.from_querydict(QueryDict("q=shirt&sort=name"))
    names = [p.name for p in selectors.product_list(by_name, "test")]
    assert names == sorted(names)


def _connection(backend: str):
    from django.db import connections

    return connections["sqlite" if backend == "sqlite" else "default"]


# Queries of a typo's plan: PostgreSQL counts the whole query and each word in one aggregate;
# SQLite counts them one by one in its FTS5 table. Then the catalogue's words close to the
# typo, then how the catalogue spells the best one (for "Did you mean").
TYPO_PLAN_QUERIES = {"postgresql": 3, "sqlite": 4}


def test_typo_plan_is_a_few_queries_and_cached(search_subset, search_backend) -> None:
    with CaptureQueriesContext(_connection(search_backend)) as first:
        plan = catalogue_search.text_search("kurtha", "v1")
    assert plan.close_matches and plan.close_matches[0] == "kurta"
    assert plan.did_you_mean == "kurta"
    assert len(first) == TYPO_PLAN_QUERIES[search_backend], [q["sql"] for q in first]
    with CaptureQueriesContext(_connection(search_backend)) as again:
        assert catalogue_search.text_search("kurtha", "v1") == plan
    assert len(again) == 0
    with CaptureQueriesContext(_connection(search_backend)) as known:
        known_plan = catalogue_search.text_search("kurtas", "v1")
    assert known_plan.close_matches == [] and known_plan.did_you_mean == ""
    assert len(known) == 1


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("kurtha", "kurta"),
        ("sunglasess", "sunglasses"),
        ("puma tshrt", "puma tshirts"),
        ("nike shoos", "nike shoes"),
        ("men black shoes", ""),
        ("zzqqxx", ""),
    ],
)
def test_did_you_mean_spells_the_corrected_query_as_the_catalogue_does(search_subset, text, suggestion) -> None:
    plan = catalogue_search.text_search(text, "test")
    assert plan.did_you_mean == suggestion
    if suggestion:
        assert len(search(suggestion)) >= catalogue_search.FUZZY_BELOW


@pytest.mark.parametrize("search_backend", ["postgresql"], indirect=True)
def test_the_search_condition_can_use_the_gin_index(search_subset) -> None:
    """The text condition is an indexable ``search_vector @@ tsquery``: with sequential scans
    off, PostgreSQL answers it from the GIN index (on 43k products it does so by itself)."""
    from shop.models import Product

    condition = catalogue_search.text_search("red dress", "test").condition()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Product.objects.filter(condition).explain()
    assert "shop_product_search_vector" in plan


@pytest.mark.parametrize("search_backend", ["sqlite"], indirect=True)
def test_the_sqlite_search_condition_uses_the_fts5_table(search_subset) -> None:
    from shop.models import Product

    condition = catalogue_search.text_search("red dress", "test").condition()
    plan = Product.objects.filter(condition).explain()
    assert "VIRTUAL TABLE INDEX" in plan and "shop_product_fts" in plan, plan


def test_catalogue_page_search_shows_close_matches_did_you_mean_and_relevance(client, search_subset) -> None:
    response = client.get("/catalogue/", {"q": "kurtha", "sort": "relevance", "colour": "Blue"})
    body = response.content.decode()
    assert "Including close matches: kurta" in body
    assert '<option value="relevance" selected>Relevance</option>' in body
    # The suggestion runs the corrected query, keeping the filters (not the sort).
    suggestion = re.search(r'Did you mean <a href="([^"]*)">([^<]*)</a>\?', body)
    assert suggestion and suggestion.groups() == ("?q=kurta&amp;colour=Blue", "kurta")
    response = client.get("/catalogue/", {"q": "kurtha"})
    assert response.context["page"].paginator.count == 15
    assert "Did you mean" not in client.get("/catalogue/", {"q": "kurta"}).content.decode()


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
