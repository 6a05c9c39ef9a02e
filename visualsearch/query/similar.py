"""The searches the pages and the API call: find similar (``similar_to_product``) and photo
search (``similar_to_photo``, with a photo or with the token of an earlier search). Thin:
the work is in the sibling modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import InvalidInput
from shop.models import Product
from visualsearch.index import NotIndexed, SearchIndex, get_index
from visualsearch.metrics import timed_search
from visualsearch.query.embedding import QueryEmbedder
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable
from visualsearch.query.locating import photo_items
from visualsearch.query.params import refinement_filters
from visualsearch.query.photo import FULL_BOX, Box, decoded_upload, preview_data_url, validate_upload_size
from visualsearch.query.ranking import is_close_match, rank_photo, raw_photo_score, similar_hits
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
    # Photo search: one row per item found in the photo, most confident first (``results``
    # above are the ``selected_item``'s: the first, unless the shopper tapped another).
    items: list[ItemResult] = field(default_factory=list)
    selected_item: int = 0


@dataclass
class ItemResult:
    """One item of a photo and its results: its box (fractions of the photo), how it was
    found ("detected", with the localiser's ``score``; "drawn"; "default": borders trimmed),
    and whether its best match is close enough to call a match."""

    box: Box
    score: float | None
    source: str
    results: list[SimilarProduct]
    close_match: bool


@timed_search("similar")
def similar_to_product(product: Product, *, k: int = 5, toggles: Mapping[str, object] | None = None) -> SimilarResult:
    """The k products that look most like ``product`` (never itself)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable(_EMPTY_INDEX)
    try:
        hits, version = similar_hits(index, product.pk, k, filters)
    except NotIndexed:
        raise NotAnalysedYet(
            "This product is still being analysed; similar items will appear in a few moments."
        ) from None
    return SimilarResult(products_for_hits(hits), filters, size, model_version=version)


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
) -> SimilarResult:
    """The k products that look most like each item of an uploaded photo: the box the shopper
    drew (``box``), else the items the item localiser finds (``visualsearch.query.locating``),
    else the photo with uniform borders trimmed; with an inline preview of the photo for the
    page (the API asks for none). ``results`` are the first item's (or ``item``'s), ``items``
    every item's. The query's embeddings are kept under a token (in the result) for
    VISUALSEARCH_QUERY_TOKEN_SECONDS: ``token`` instead of ``data`` re-ranks them (other
    filters, another ``item``) without the photo and without the model. ``embedder``: the
    query embedder (default: the one installed at start-up)."""
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
    rows = [_item_result(index, entry, k, filters) for entry in items]
    chosen = rows[selected]
    return SimilarResult(
        chosen.results,
        filters,
        size,
        stored.preview_data_url if preview else "",
        index.model_version,
        token=token,
        box=chosen.box,
        close_match=chosen.close_match,
        query_vector=np.asarray(items[selected].vector, np.float32).reshape(-1, 2048)[0],
        items=rows,
        selected_item=selected,
    )


def _item_result(index: SearchIndex, item: StoredItem, k: int, filters: Mapping[str, object]) -> ItemResult:
    """One item's results and whether its best match is close ("nothing close" per item)."""
    hits = rank_photo(index, item.vector, item.colour, k, filters)
    closeness = None
    if hits and index.photo_projection is not None:
        closeness = raw_photo_score(item.vector, item.colour, hits[0].product_id)
    return ItemResult(item.box, item.score, item.source, products_for_hits(hits), is_close_match(hits, closeness))
