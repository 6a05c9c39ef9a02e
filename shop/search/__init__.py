"""Text search of the catalogue: the shopper's words, and how products are matched to them
and ranked ("Relevance"). One service, two backends chosen by the database the products are
read from: PostgreSQL (``shop.search.postgresql``: a tsvector column, ``ts_rank``, typos by
``pg_trgm``) and SQLite, the embedded default (``shop.search.sqlite``: an FTS5 table with the
porter stemmer, typos by edit distance over the FTS5 vocabulary). Both answer the same
20-odd-query table (``shop/tests/test_search.py`` runs it on each).

Every word must match (AND), the last one also as a prefix while the shopper is still typing
("nik" → Nike). Typos: when the whole query finds fewer than FUZZY_BELOW products, each word
the catalogue hardly knows (fewer than FUZZY_BELOW products alone, 4+ letters) is widened to
the catalogue's own words closest to it ("tshrt" → tshirt, "kurtha" → kurta); the page says so
and offers the corrected query ("Did you mean …"). The plan is cached per catalogue version,
backend and text.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connections, router
from django.db.models import Q

from shop.models import Product
from shop.search import postgresql, sqlite
from shop.search.words import ALTERNATIVES, FUZZY_BELOW, search_words

__all__ = ["FUZZY_BELOW", "TextSearch", "backend", "search_words", "text_search"]

TEXT_PLAN_CACHE_SECONDS = 60
DISPLAY_SAMPLE = 50  # products looked at to spell a corrected word as the catalogue does


def backend() -> str:
    """The search backend of the database products are read from: "postgresql" or "sqlite"."""
    vendor = connections[router.db_for_read(Product)].vendor
    return "postgresql" if vendor == "postgresql" else "sqlite"


@dataclass(frozen=True)
class TextSearch:
    """How one query's text is searched: its words, and for the words the catalogue does not
    know, the catalogue words close to them (stems on both backends) and the spelling of the
    best one as the catalogue writes it (for "Did you mean …")."""

    words: tuple[str, ...]
    corrections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    engine: str = "postgresql"
    spellings: tuple[tuple[str, str], ...] = ()

    @property
    def close_matches(self) -> list[str]:
        """The catalogue words a typo was widened to (to say so on the page)."""
        return [lexeme for _word, lexemes in self.corrections for lexeme in lexemes]

    @property
    def did_you_mean(self) -> str:
        """The query with each unknown word replaced by the catalogue's closest word, or ""
        when every word is known."""
        if not self.spellings:
            return ""
        spelled = dict(self.spellings)
        return " ".join(spelled.get(word, word) for word in self.words)

    def condition(self) -> Q:
        if not self.words:
            return Q()
        if self.engine == "postgresql":
            return postgresql.condition(self.words, self.corrections)
        return sqlite.condition(self.words, self.corrections)

    def relevance(self) -> list:
        """ORDER BY terms, best first (the sort's own terms break ties)."""
        if not self.words:
            return []
        if self.engine == "postgresql":
            return postgresql.relevance(self.words, self.corrections)
        return sqlite.relevance(self.words, self.corrections)


def text_search(text: str, catalogue_version: str = "") -> TextSearch:
    """The plan for searching ``text``. One query counts the matches of the whole query and of
    each word; when the whole finds fewer than FUZZY_BELOW products, the unknown words are
    looked up among the catalogue's words (the plan is cached per catalogue version)."""
    engine = backend()
    words = tuple(search_words(text))
    if engine == "sqlite":
        words = sqlite.without_stop_words(words)
    if not words:
        return TextSearch(words, engine=engine)
    key = "textsearch:" + hashlib.sha1(f"{engine}:{catalogue_version}:{' '.join(words)}".encode()).hexdigest()
    plan = cache.get(key)
    if plan is None:
        module = postgresql if engine == "postgresql" else sqlite
        corrections = module.corrections(words)
        plan = (corrections, _spellings(corrections))
        cache.set(key, plan, TEXT_PLAN_CACHE_SECONDS)
    corrections, spellings = plan
    return TextSearch(words, corrections, engine, spellings)


def _spellings(corrections: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, str], ...]:
    """For each corrected word, its best match as the catalogue spells it: the commonest word
    of product names and types starting with the (stemmed) match ("sunglass" → sunglasses)."""
    spellings = []
    for word, lexemes in corrections:
        if word in ALTERNATIVES or not lexemes:
            continue
        spellings.append((word, catalogue_spelling(lexemes[0])))
    return tuple(spellings)


def catalogue_spelling(stem: str) -> str:
    """The catalogue's commonest word starting with ``stem`` (``stem`` itself when none)."""
    pattern = rf"(^|[^a-z0-9]){re.escape(stem)}"
    rows = (
        Product.objects.filter(is_active=True)
        .filter(Q(name__iregex=pattern) | Q(article_type__iregex=pattern))
        .values_list("name", "article_type")[:DISPLAY_SAMPLE]
    )
    counts: Counter[str] = Counter()
    for name, article_type in rows:
        for token in re.findall(r"[a-z0-9]+", f"{name} {article_type}".lower()):
            if token.startswith(stem):
                counts[token] += 1
    if not counts:
        return stem
    # Commonest first; between equals the shortest (the singular), then alphabetical.
    return min(counts, key=lambda token: (-counts[token], len(token), token))
