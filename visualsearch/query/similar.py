"""The searches the pages and the API call: find similar (``similar_to_product``) and photo
search (``similar_to_photo``, with a photo or with the token of an earlier search). Thin:
the work is in the sibling modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import InvalidInput
from shop.attributes import STOCK_FIELD
from shop.models import Product
from visualsearch.index import Hit, NotIndexed, SearchIndex, get_index
from visualsearch.metrics import timed_search
from visualsearch.query.cache import similar_hits_cached
from visualsearch.query.embedding import QueryEmbedder
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable
from visualsearch.query.locating import photo_items
from visualsearch.query.params import refinement_filters
from visualsearch.query.photo import FULL_BOX, Box, decoded_upload, preview_data_url, validate_upload_size
from visualsearch.query.pricing import PriceRule, hits_within_price, price_pool, price_sorted
from visualsearch.query.ranking import is_close_match, is_exact_match, rank_photo, raw_photo_score
from visualsearch.query.tokens import StoredItem, StoredQuery, load_query, store_query
from visualsearch.selectors import SimilarProduct, products_for_hits

_EMPTY_INDEX = "Visual search has no analysed products yet. Please try again later."


@dataclass
class SimilarResult:
    results: list[SimilarProduct]
    filters: dict[str, Any]
    index_size: int
    preview_data_url: str = ""
    # What ranked the results: the backbone, plus the similarity head for find similar.
    model_version: str = ""
    # Photo search: the token that refines this query without the photo, the searched box,
    # and whether the best match is close enough to call a match (else "nothing close").
    token: str = ""
    box: Box | None = None
    close_match: bool = True
    # Photo search: the query's embedding (kept by apps that record searches answered
    # "nothing close"; never shown).
    query_vector: np.ndarray | None = None
    # The price rule as applied ("cheaper" resolved to a price), None when none was asked.
    price_rule: PriceRule | None = None
    # Photo search: the photographed product itself, when the best match scores at least
    # VISUALSEARCH_PHOTO_EXACT_THRESHOLD, found with every filter but "in stock only" (so a
    # sold-out match is still shown first); None when no product is that close. The
    # ``selected_item``'s, like ``results``.
    exact_match: SimilarProduct | None = None
    # Photo search: one row per item found in the photo, most confident first (``results``
    # above are the ``selected_item``'s: the first, unless the shopper tapped another).
    items: list[ItemResult] = field(default_factory=list)
    selected_item: int = 0

    @property
    def exact_apart(self) -> SimilarProduct | None:
        """The exact match shown first, apart: when the results leave it out ("in stock only",
        "cheaper"), and when it is sold out (so "Notify me" is beside it) though in them."""
        return _apart(self.exact_match, self.results)

    @property
    def lookalikes(self) -> list[SimilarProduct]:
        """The results the page shows as lookalikes: all but the exact match shown apart."""
        return _without(self.results, self.exact_apart)


@dataclass
class ItemResult:
    """One item of a photo and its results: its box (fractions of the photo), how it was
    found ("detected", with the localiser's ``score``; "drawn"; "default": borders trimmed),
    whether its best match is close enough to call a match, the price rule as applied to its
    results, and its exact match (the photographed product, judged on this item alone)."""

    box: Box
    score: float | None
    source: str
    results: list[SimilarProduct]
    close_match: bool
    price_rule: PriceRule | None = None
    exact_match: SimilarProduct | None = None
    # The refinements as applied to this item (its price rule's included, as in ``filters``).
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def exact_apart(self) -> SimilarProduct | None:
        """This item's exact match shown first, apart (see SimilarResult)."""
        return _apart(self.exact_match, self.results)

    @property
    def lookalikes(self) -> list[SimilarProduct]:
        """This item's results but the exact match shown apart (see SimilarResult)."""
        return _without(self.results, self.exact_apart)


def _apart(exact: SimilarProduct | None, results: list[SimilarProduct]) -> SimilarProduct | None:
    if exact is None:
        return None
    if exact.product.sold_out or not any(item.product.pk == exact.product.pk for item in results):
        return exact
    return None


def _without(results: list[SimilarProduct], apart: SimilarProduct | None) -> list[SimilarProduct]:
    if apart is None:
        return results
    return [item for item in results if item.product.pk != apart.product.pk]


@timed_search("similar")
def similar_to_product(
    product: Product,
    *,
    k: int = 5,
    toggles: Mapping[str, object] | None = None,
    price: PriceRule | None = None,
) -> SimilarResult:
    """The k products that look most like ``product`` (never itself); with a ``price`` rule,
    the k that look most like it among those within the price ("cheaper": below its price),
    in the rule's order (query/pricing.py)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable(_EMPTY_INDEX)
    rule = price.with_reference(product.price) if price is not None else None
    try:
        hits, version = similar_hits_cached(index, product.pk, price_pool(k, rule), filters)
    except NotIndexed:
        raise NotAnalysedYet(
            "This product is still being analysed; similar items will appear in a few moments."
        ) from None
    if rule is not None:
        hits, rule = hits_within_price(hits, rule, k)
        filters = filters | rule.applied()
    results = price_sorted(products_for_hits(hits), rule)
    return SimilarResult(results, filters, size, model_version=version, price_rule=rule)


def _photo_kind(data: bytes | None = None, *args: object, token: str = "", **kwargs: object) -> str:
    """Refining a kept query (a token, no photo) is timed apart from a search with a photo."""
    return "photo_refine" if token and data is None else "photo"


@timed_search(_photo_kind)
def similar_to_photo(
    data: bytes | None = None,
    *,
    token: str = "",
    box: Box | None = None,
    k: int = 5,
    filters: Mapping[str, object] | None = None,
    preview: bool = True,
    embedder: QueryEmbedder | None = None,
    item: int | None = None,
    price: PriceRule | None = None,
) -> SimilarResult:
    """The k products that look most like each item of an uploaded photo: the box the shopper
    drew (``box``), else the items the item localiser finds (``visualsearch.query.locating``),
    else the photo with uniform borders trimmed; with an inline preview of the photo for the
    page (the API asks for none). ``results`` are the first item's (or ``item``'s), ``items``
    every item's. The query's embeddings are kept under a token (in the result) for
    VISUALSEARCH_QUERY_TOKEN_SECONDS: ``token`` instead of ``data`` re-ranks them (other
    filters, another ``item``) without the photo and without the model. ``embedder``: the
    query embedder (default: the one installed at start-up). ``price``: a price rule
    ("cheaper": below the item's best match's price, which is then left out), applied to each
    item's best lookalikes as in find similar; each item's exact match is judged before it."""
    index = get_index()
    size = len(index)
    stored: StoredQuery | None = None
    if data is None:
        stored = load_query(token)
    else:
        validate_upload_size(len(data))
        upright = decoded_upload(data)  # refuses unusable bytes before anything else
    if size == 0:
        raise SearchUnavailable(_EMPTY_INDEX)
    filters = dict(filters or {})
    if stored is None:
        assert data is not None
        known = index.filter_values()
        if any(value not in known.get(name, ()) for name, value in filters.items()):
            # No product has that value: nothing can match, so the photo is not even embedded.
            preview_url = preview_data_url(upright) if preview else ""
            return SimilarResult([], filters, size, preview_url, box=box or FULL_BOX)
        located = photo_items(data, box, embedder)
        preview_url = preview_data_url(located.photo)
        first = located.items[0]
        from visualsearch.ml.embedder import MODEL_VERSION

        stored = StoredQuery(
            first.vector, first.colour, first.box, preview_url, MODEL_VERSION, items=tuple(located.items)
        )
        token = store_query(stored)
    items = stored.items or (StoredItem(stored.box, None, "default", stored.vector, stored.colour),)
    selected = 0 if item is None else item
    if not 0 <= selected < len(items):
        raise InvalidInput(f"item must be between 0 and {len(items) - 1}: this photo has {len(items)} item(s).")
    rows = [_item_result(index, entry, k, filters, price) for entry in items]
    chosen = rows[selected]
    return SimilarResult(
        chosen.results,
        chosen.filters,
        size,
        stored.preview_data_url if preview else "",
        index.model_version,
        token=token,
        box=chosen.box,
        close_match=chosen.close_match,
        query_vector=np.asarray(items[selected].vector, np.float32).reshape(-1, 2048)[0],
        price_rule=chosen.price_rule,
        exact_match=chosen.exact_match,
        items=rows,
        selected_item=selected,
    )


def _item_result(
    index: SearchIndex, item: StoredItem, k: int, filters: Mapping[str, object], price: PriceRule | None
) -> ItemResult:
    """One item's results: whether its best match is close ("nothing close" per item), its
    exact match (judged before any price rule, which may leave it out of the results:
    "cheaper" than it; the page then shows it apart, first), then the price rule."""
    hits = rank_photo(index, item.vector, item.colour, price_pool(k, price), filters)
    closeness = None
    if hits and index.photo_projection is not None:
        closeness = raw_photo_score(item.vector, item.colour, hits[0].product_id)
    close_match = is_close_match(hits, closeness)
    exact = _exact_hit(index, item, filters, hits, closeness)
    exact_products = products_for_hits([exact]) if exact is not None else []
    rule = price
    applied = dict(filters)
    if rule is not None:
        best = hits[0].product_id if hits and rule.cheaper else None
        hits, rule = hits_within_price(hits, rule, k, reference=best)
        applied |= rule.applied()
    return ItemResult(
        item.box,
        item.score,
        item.source,
        price_sorted(products_for_hits(hits[:k]), rule),
        close_match,
        price_rule=rule,
        exact_match=exact_products[0] if exact_products else None,
        filters=applied,
    )


def _exact_hit(
    index: SearchIndex, item: StoredItem, filters: Mapping[str, object], hits: list[Hit], closeness: float | None
) -> Hit | None:
    """The photographed product itself, if photo search is sure of it: the item's best match
    with every filter but "in stock only" (the filter hides alternatives, never the match),
    when its raw score reaches the exact threshold. One more ranking only when stock was
    filtered."""
    if STOCK_FIELD in filters:
        unfiltered = {name: value for name, value in filters.items() if name != STOCK_FIELD}
        best = rank_photo(index, item.vector, item.colour, 1, unfiltered)
        if best and hits and best[0].product_id == hits[0].product_id:
            best, score = hits[:1], closeness
        else:
            score = None
    else:
        best, score = hits[:1], closeness
    if not best:
        return None
    if score is None:
        score = raw_photo_score(item.vector, item.colour, best[0].product_id)
    return best[0] if is_exact_match(score) else None
