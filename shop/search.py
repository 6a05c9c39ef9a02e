"""Text search of the catalogue: the shopper's words, and how products are matched to them
and ranked ("Relevance"), on PostgreSQL and on SQLite.

PostgreSQL: full-text search over the stored, GIN-indexed ``search_vector`` column (migration
0007: name A, article type B, colour and sub category C, gender D; 'english' stemming, so
"kurtas", "watches", "dresses" find "Kurtas", "Watches", "Dresses"). Every word must match
(AND), the last one also as a prefix while the shopper is still typing ("nik" → Nike), and
results are ranked with ts_rank (the "Relevance" sort).

Typos: when the whole query finds fewer than FUZZY_BELOW products, each word the catalogue
hardly knows (fewer than FUZZY_BELOW products alone, 4+ letters) is widened to the catalogue's
own words closest to it by pg_trgm similarity ("tshrt" → tshirt, "kurtha" → kurta, kurti).
The catalogue's words are the lexemes of the search vectors (names, article types...,
``ts_stat``); the search itself stays an indexed full-text match, so every query on the page
(products, count, facets) is as fast as an ordinary one. The plan is cached per catalogue
version and text.

SQLite (the embedded default, small catalogues): every word must start a word of the name,
article type, colour or gender, after simple plural stripping ("kurtas" → "kurta",
"watches" → "watch"); relevance puts products whose name holds every word first.
"""

from __future__ import annotations

import hashlib
import operator
import re
from dataclasses import dataclass
from functools import reduce

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, Expression, Q, Value, When

from shop.models import Product

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
