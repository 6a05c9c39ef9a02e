"""Suggestions as the shopper types in the header's search box: the catalogue's product types,
brands and colours whose names start with (a word starting with) what was typed, then a few
products the text search finds. The same on both backends: the vocabulary is read once per
catalogue version (distinct values and counts; brands from the names) and matched in Python;
products come from the text search service.

A brand is what a product's name says before its audience ("Louis Philippe Men Grey
Sunglasses" → Louis Philippe; "Giny and Jony Girls Printed Dress" → Giny and Jony), or its first
word when the name names none; brands of a single product are left out.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse

from shop import labels
from shop.models import Product

MAX_SUGGESTIONS = 10
DEFAULT_SUGGESTIONS = 8
MAX_TEXT = 100
VOCABULARY_CACHE_SECONDS = 600
SUGGESTIONS_CACHE_SECONDS = 60
# At most this many of each kind, in this order.
KIND_LIMITS: dict[str, int] = {"type": 4, "brand": 3, "colour": 2, "product": 3}
KIND_LABELS: dict[str, str] = {"type": "Product type", "brand": "Brand", "colour": "Colour", "product": "Product"}
_AUDIENCE = re.compile(r"\s(?:Men|Women|Boys|Girls|Unisex|Kids|Mens|Womens)(?:['’]s)?\b")
BRAND_MIN_PRODUCTS = 2
TYPO_CUTOFF = 0.75


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "type", "brand", "colour" or "product"
    label: str  # what the shopper reads
    url: str  # where choosing it goes
    count: int | None = None  # products of a type, brand or colour

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class _Term:
    kind: str
    label: str
    param: str  # the catalogue's query-string parameter it opens, "q" for a brand
    value: str
    count: int


def brand_of(name: str) -> str:
    """The brand a product's name starts with (see the module's docstring)."""
    name = " ".join(name.split())
    match = _AUDIENCE.search(name)
    brand = name[: match.start()] if match else name.partition(" ")[0]
    return brand.strip(" -,")


def _vocabulary(catalogue_version: str) -> list[_Term]:
    key = f"suggest:vocabulary:{catalogue_version}"
    terms = cache.get(key)
    if terms is None:
        active = Product.objects.filter(is_active=True)
        terms = []
        for kind, field_name, param in (("type", "article_type", "type"), ("colour", "base_colour", "colour")):
            rows = active.exclude(**{field_name: ""}).values_list(field_name).annotate(n=Count("id")).order_by("-n")
            terms += [
                _Term(kind, labels.value_label(value, param), param, value, n)
                for value, n in rows
                if value and value != "NA"
            ]
        brands = Counter(brand_of(name) for name in active.values_list("name", flat=True).iterator(chunk_size=5000))
        terms += [
            _Term("brand", brand, "q", brand, n)
            for brand, n in brands.most_common()
            if brand and n >= BRAND_MIN_PRODUCTS
        ]
        cache.set(key, terms, VOCABULARY_CACHE_SECONDS)
    return terms


def _starts_a_word(text: str, label: str) -> bool:
    return re.search(rf"(^|[^a-z0-9]){re.escape(text)}", label.lower()) is not None


def _catalogue_url(param: str, value: str) -> str:
    return reverse("shop:catalogue") + "?" + urlencode({param: value})


def search_suggestions(text: str, catalogue_version: str, limit: int = DEFAULT_SUGGESTIONS) -> list[Suggestion]:
    """Up to ``limit`` suggestions for ``text``: types, brands, colours (commonest first), then
    products. A typo with no match by prefix gets the vocabulary's closest names."""
    text = " ".join(text.lower().replace("\x00", "").split())[:MAX_TEXT]
    limit = max(1, min(limit, MAX_SUGGESTIONS))
    if not text:
        return []
    key = "suggest:" + catalogue_version + ":" + str(limit) + ":" + re.sub(r"[^a-z0-9]", "_", text)[:MAX_TEXT]
    found = cache.get(key)
    if found is None:
        found = _suggestions(text, catalogue_version, limit)
        cache.set(key, found, SUGGESTIONS_CACHE_SECONDS)
    return found


def _suggestions(text: str, catalogue_version: str, limit: int) -> list[Suggestion]:
    terms = _vocabulary(catalogue_version)
    matching = [t for t in terms if _starts_a_word(text, t.label) or _starts_a_word(text, t.value)]
    if not matching and len(text) >= 4:
        by_name = {t.label.lower(): t for t in terms}
        matching = [by_name[n] for n in difflib.get_close_matches(text, list(by_name), n=4, cutoff=TYPO_CUTOFF)]
    chosen: list[Suggestion] = []
    for kind in ("type", "brand", "colour"):
        of_kind = sorted(
            (t for t in matching if t.kind == kind), key=lambda t: (not t.label.lower().startswith(text), -t.count)
        )[: KIND_LIMITS[kind]]
        chosen += [Suggestion(kind, t.label, _catalogue_url(t.param, t.value), t.count) for t in of_kind]
    chosen = chosen[: max(limit - 1, 1)] if len(text) >= 2 else chosen[:limit]
    room = min(limit - len(chosen), KIND_LIMITS["product"])
    if room > 0 and len(text) >= 2:
        shown = {s.label.lower() for s in chosen}
        for product in _products(text, catalogue_version, room * 3):
            if product.name.lower() not in shown and room > 0:
                shown.add(product.name.lower())
                chosen.append(Suggestion("product", product.name, product.get_absolute_url()))
                room -= 1
    return chosen[:limit]


def _products(text: str, catalogue_version: str, limit: int) -> list[Product]:
    from shop import selectors  # selectors imports the search package: import here, not at load

    query = selectors.CatalogueQuery(text=text, sort=selectors.RELEVANCE)
    return list(selectors.product_list(query, catalogue_version).only("id", "name")[:limit])
