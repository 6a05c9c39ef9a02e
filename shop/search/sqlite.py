"""The SQLite search backend (the embedded default): an FTS5 table, ``shop_product_fts``, with
the porter stemmer ("dresses" → dress, "watches" → watch, "kurtas" → kurta), holding each active
product's name, article type, colour (with its sub category) and gender under the product's id.
Triggers on ``shop_product`` keep it in step whatever writes the row (admin, import,
bulk_create, raw SQL), as PostgreSQL's generated column is; ``manage.py search_rebuild``
refills it, and after every ``migrate`` any trigger a table rebuild dropped (SQLite's ALTER
TABLE remakes the table) is recreated and the table refilled (``shop.receivers``).

Relevance weighs where each word matched as ts_rank's weights do on PostgreSQL: name 1.0,
article type 0.4, colour and sub category 0.2, gender 0.1. Typos: the FTS5 vocabulary
(``fts5vocab``: each stemmed word with the number of products holding it) gives the catalogue's
words; the closest to a typo by difflib's ratio widen it. English stop words are dropped ("watch
for women"), as PostgreSQL's 'english' configuration does.
"""

from __future__ import annotations

import difflib
import operator
import re
from functools import reduce

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, ExpressionWrapper, FloatField, Q, Value, When
from django.db.models.expressions import RawSQL

from shop.models import Product
from shop.search.words import ALTERNATIVES, FUZZY_BELOW, FUZZY_MAX_WORDS

TABLE = "shop_product_fts"
VOCABULARY = "shop_product_fts_words"
FUZZY_SIMILARITY = 0.65  # difflib ratio of a typo to a catalogue word ("shoos" → shoe: 0.67; "skin" → bikini: 0.6)
FUZZY_SPREAD = 0.05  # keep the catalogue words this close to the best one
# FTS5 column → weight in the relevance order (PostgreSQL's ts_rank weights A, B, C, D).
COLUMN_WEIGHTS: dict[str, float] = {"name": 1.0, "article_type": 0.4, "colour": 0.2, "gender": 0.1}
# PostgreSQL's 'english' configuration drops these; so does this backend (when other words remain).
STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its", "of"}
    | {"on", "or", "our", "the", "their", "this", "to", "with", "your"}
)

_COLUMNS_SQL = "new.id, new.name, new.article_type, new.base_colour || ' ' || new.sub_category, new.gender"
CREATE_TABLES = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
    "name, article_type, colour, gender, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCABULARY} USING fts5vocab({TABLE}, 'row')",
]
TRIGGERS: dict[str, str] = {
    "shop_product_fts_insert": (
        "CREATE TRIGGER IF NOT EXISTS shop_product_fts_insert AFTER INSERT ON shop_product "
        f"WHEN new.is_active BEGIN INSERT INTO {TABLE}(rowid, name, article_type, colour, gender) "
        f"VALUES ({_COLUMNS_SQL}); END"
    ),
    "shop_product_fts_update": (
        "CREATE TRIGGER IF NOT EXISTS shop_product_fts_update AFTER UPDATE ON shop_product "
        f"BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; "
        f"INSERT INTO {TABLE}(rowid, name, article_type, colour, gender) SELECT {_COLUMNS_SQL} "
        "WHERE new.is_active; END"
    ),
    "shop_product_fts_delete": (
        "CREATE TRIGGER IF NOT EXISTS shop_product_fts_delete AFTER DELETE ON shop_product "
        f"BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; END"
    ),
}
REFILL = [
    f"DELETE FROM {TABLE}",
    f"INSERT INTO {TABLE}(rowid, name, article_type, colour, gender) "
    "SELECT id, name, article_type, base_colour || ' ' || sub_category, gender FROM shop_product WHERE is_active",
]
DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS] + [
    f"DROP TABLE IF EXISTS {VOCABULARY}",
    f"DROP TABLE IF EXISTS {TABLE}",
]

Corrections = tuple[tuple[str, tuple[str, ...]], ...]


# --- The table ---------------------------------------------------------------------------------


def fts_installed(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "sqlite" and TABLE in connection.introspection.table_names()


def fts_install(connection: BaseDatabaseWrapper) -> bool:
    """Creates the FTS5 table and its triggers where missing; refills the table when a trigger
    was missing (a new table, or one that missed writes). True when it refilled."""
    with connection.cursor() as cursor:
        for statement in CREATE_TABLES:
            cursor.execute(statement)
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'shop_product'")
        present = {row[0] for row in cursor.fetchall()}
        missing = [sql for name, sql in TRIGGERS.items() if name not in present]
        for statement in missing:
            cursor.execute(statement)
    if missing:
        fts_refill(connection)
    return bool(missing)


def fts_refill(connection: BaseDatabaseWrapper) -> int:
    """Refills the FTS5 table from the active products; returns how many it holds."""
    with connection.cursor() as cursor:
        for statement in REFILL:
            cursor.execute(statement)
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return int(cursor.fetchone()[0])


def fts_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in DROP:
            cursor.execute(statement)


# --- Queries -----------------------------------------------------------------------------------


def without_stop_words(words: tuple[str, ...]) -> tuple[str, ...]:
    kept = tuple(word for word in words if word not in STOP_WORDS)
    return kept or words


def _term(word: str, *, prefix: bool, lexemes: tuple[str, ...] = ()) -> str:
    """One query word as an FTS5 expression (the words and lexemes are [a-z0-9]+ only)."""
    options = ALTERNATIVES.get(word, (word,))
    star = "*" if prefix and len(word) >= 3 and word not in ALTERNATIVES else ""
    return "(" + " OR ".join([f'"{o}"{star}' for o in options] + [f'"{lexeme}"' for lexeme in lexemes]) + ")"


def _terms(words: tuple[str, ...], corrections: Corrections = ()) -> list[str]:
    corrected = dict(corrections)
    return [_term(word, prefix=i == len(words) - 1, lexemes=corrected.get(word, ())) for i, word in enumerate(words)]


def match_expression(words: tuple[str, ...], corrections: Corrections = ()) -> str:
    return " AND ".join(_terms(words, corrections))


def _matching(expression: str) -> RawSQL:
    return RawSQL(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [expression])


def condition(words: tuple[str, ...], corrections: Corrections = ()) -> Q:
    return Q(pk__in=_matching(match_expression(words, corrections)))


def relevance(words: tuple[str, ...], corrections: Corrections = ()) -> list:
    """Each word adds the weight of every column it matched in (each an uncorrelated
    ``IN (SELECT rowid … MATCH …)``, which SQLite evaluates once)."""
    scores = [
        Case(When(pk__in=_matching(f"{column} : {term}"), then=Value(weight)), default=Value(0.0))
        for term in _terms(words, corrections)
        for column, weight in COLUMN_WEIGHTS.items()
    ]
    return [ExpressionWrapper(reduce(operator.add, scores), output_field=FloatField()).desc()]


def _count(cursor, expression: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {TABLE} MATCH %s", [expression])
    return int(cursor.fetchone()[0])


def corrections(words: tuple[str, ...]) -> Corrections:
    """Counts the whole query's and each word's matches; when the whole finds fewer than
    FUZZY_BELOW products, each word found in fewer (4+ letters) is widened to the catalogue's
    words closest to it."""
    found = []
    with connections[router.db_for_read(Product)].cursor() as cursor:
        if _count(cursor, match_expression(words)) >= FUZZY_BELOW:
            return ()
        terms = _terms(words)
        vocabulary: list[str] | None = None
        for word, term in zip(words, terms, strict=True):
            if len(word) < 4 or word in ALTERNATIVES or _count(cursor, term) >= FUZZY_BELOW:
                continue
            if vocabulary is None:
                cursor.execute(f"SELECT term FROM {VOCABULARY} WHERE doc >= %s AND length(term) >= 3", [FUZZY_BELOW])
                vocabulary = [row[0] for row in cursor.fetchall() if re.fullmatch(r"[a-z0-9]+", row[0])]
            lexemes = closest_words(word, vocabulary)
            if lexemes:
                found.append((word, lexemes))
    return tuple(found)


def closest_words(word: str, vocabulary: list[str]) -> tuple[str, ...]:
    """The vocabulary's words closest to ``word`` (difflib's ratio above FUZZY_SIMILARITY and
    within FUZZY_SPREAD of the best), best first, at most FUZZY_MAX_WORDS."""
    candidates = difflib.get_close_matches(word, vocabulary, n=10, cutoff=FUZZY_SIMILARITY)
    if not candidates:
        return ()
    scored = [(difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates]
    best = max(score for score, _c in scored)
    return tuple(c for score, c in sorted(scored, key=lambda sc: -sc[0]) if score >= best - FUZZY_SPREAD)[
        :FUZZY_MAX_WORDS
    ]
