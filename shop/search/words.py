"""The shopper's words, as both search backends read them: lower case, shoppers' spellings of
the catalogue's words normalised ("t-shirt", "tees" → tshirts; "men's" → men), letters and
digits only."""

from __future__ import annotations

import re

FUZZY_BELOW = 3  # a query (or word) finding fewer products than this is looked at for typos
FUZZY_MAX_WORDS = 3  # catalogue words a typo is widened to, at most
MAX_WORDS = 8

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
ALTERNATIVES: dict[str, tuple[str, ...]] = {"kids": ("boys", "girls")}


def search_words(text: str) -> list[str]:
    """The query's words: lower case, shoppers' spellings normalised, letters and digits only."""
    normalised = text.lower()
    for pattern, replacement in _SYNONYMS:
        normalised = pattern.sub(replacement, normalised)
    return re.findall(r"[a-z0-9]+", normalised)[:MAX_WORDS]
