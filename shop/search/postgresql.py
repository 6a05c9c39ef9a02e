"""The PostgreSQL search backend: full-text search over the stored, GIN-indexed
``search_vector`` column (migration 0007: name A, article type B, colour and sub category C,
gender D; 'english' stemming, so "kurtas", "watches", "dresses" find "Kurtas", "Watches",
"Dresses"), ranked with ts_rank. Typos are widened to the catalogue's own words (the lexemes of
the search vectors, ``ts_stat``) closest by pg_trgm similarity; the search itself stays an
indexed full-text match, so every query on the page (products, count, facets) is as fast as an
ordinary one."""

from __future__ import annotations

import operator
import re
from functools import reduce

from django.db import connections, router
from django.db.models import Count, Expression, Q

from shop.models import Product
from shop.search.words import ALTERNATIVES, FUZZY_BELOW, FUZZY_MAX_WORDS

FUZZY_SIMILARITY = 0.3  # pg_trgm similarity of a typo to a catalogue word
FUZZY_SPREAD = 0.1  # keep the catalogue words this close to the best one
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

Corrections = tuple[tuple[str, tuple[str, ...]], ...]


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

    options = ALTERNATIVES.get(word, (word,))
    suffix = ":*" if prefix and len(word) >= 3 and word not in ALTERNATIVES else ""
    return SearchQuery(" | ".join(f"{o}{suffix}" for o in options), search_type="raw", config="english")


def tsquery(words: tuple[str, ...], corrections: Corrections = ()):
    from django.contrib.postgres.search import SearchQuery

    corrected = dict(corrections)
    query = None
    for i, word in enumerate(words):
        term = _word_query(word, prefix=i == len(words) - 1)
        if corrected.get(word):
            term = term | SearchQuery(" | ".join(corrected[word]), search_type="raw", config="simple")
        query = term if query is None else query & term
    return query


def condition(words: tuple[str, ...], corrections: Corrections = ()) -> Q:
    from django.contrib.postgres.search import SearchVectorExact

    return Q(SearchVectorExact(SearchVectorColumn(), tsquery(words, corrections)))


def relevance(words: tuple[str, ...], corrections: Corrections = ()) -> list:
    from django.contrib.postgres.search import SearchRank

    return [SearchRank(SearchVectorColumn(), tsquery(words, corrections)).desc()]


def corrections(words: tuple[str, ...]) -> Corrections:
    """One aggregate query counts the whole query's and each word's matches; the words the
    catalogue hardly knows are then looked up among its lexemes by trigram similarity."""
    from django.contrib.postgres.search import SearchVectorExact

    def matching(query) -> Q:
        return Q(SearchVectorExact(SearchVectorColumn(), query))

    word_queries = [_word_query(w, prefix=i == len(words) - 1) for i, w in enumerate(words)]
    counts = (
        Product.objects.filter(is_active=True)
        .filter(reduce(operator.or_, (matching(q) for q in word_queries)))
        .aggregate(
            all=Count("pk", filter=matching(tsquery(words))),
            **{f"w{i}": Count("pk", filter=matching(q)) for i, q in enumerate(word_queries)},
        )
    )
    if counts["all"] >= FUZZY_BELOW:
        return ()
    found = []
    for i, word in enumerate(words):
        if counts[f"w{i}"] < FUZZY_BELOW and len(word) >= 4 and word not in ALTERNATIVES:
            with connections[router.db_for_read(Product)].cursor() as cursor:
                cursor.execute(
                    _VOCABULARY_SQL,
                    [word, FUZZY_BELOW, FUZZY_SIMILARITY, word, FUZZY_BELOW, FUZZY_SPREAD, FUZZY_MAX_WORDS],
                )
                lexemes = tuple(row[0] for row in cursor.fetchall() if re.fullmatch(r"[a-z0-9]+", row[0]))
            if lexemes:
                found.append((word, lexemes))
    return tuple(found)
