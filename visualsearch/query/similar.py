"""The searches the pages and the API call: find similar (``similar_to_product``) and photo
search (``similar_to_photo``, with a photo or with the token of an earlier search). Thin:
the work is in the sibling modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from shop.models import Product
from visualsearch.index import NotIndexed, get_index
from visualsearch.metrics import timed_search
from visualsearch.query.cache import similar_hits_cached
from visualsearch.query.embedding import QueryEmbedder, query_embedding
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable
from visualsearch.query.params import refinement_filters
from visualsearch.query.photo import (
    Box,
    DecodedPhoto,
    decode_photo,
    preview_data_url,
    query_colour,
    validate_upload_size,
)
from visualsearch.query.ranking import is_close_match, rank_photo, raw_photo_score
from visualsearch.query.tokens import StoredQuery, load_query, store_query
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


@timed_search("similar")
def similar_to_product(product: Product, *, k: int = 5, toggles: Mapping[str, object] | None = None) -> SimilarResult:
    """The k products that look most like ``product`` (never itself)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable(_EMPTY_INDEX)
    try:
        hits, version = similar_hits_cached(index, product.pk, k, filters)
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
) -> SimilarResult:
    """The k products that look most like an uploaded photo's region (``box``; by default
    the photo with uniform borders trimmed), with an inline preview of the photo for the
    page (the API asks for none). The query's embedding is kept under a token (in the
    result) for VISUALSEARCH_QUERY_TOKEN_SECONDS: ``token`` instead of ``data`` re-ranks
    it (other filters) without the photo and without the model. ``embedder``: the query
    embedder (default: the one installed at start-up)."""
    index = get_index()
    size = len(index)
    stored: StoredQuery | None = None
    photo: DecodedPhoto | None = None
    if data is None:
        stored = load_query(token)
    else:
        validate_upload_size(len(data))
        photo = decode_photo(data, box)
    if size == 0:
        raise SearchUnavailable(_EMPTY_INDEX)
    filters = dict(filters or {})
    if stored is None:
        assert photo is not None
        preview_url = preview_data_url(photo.photo)
        known = index.filter_values()
        if any(value not in known.get(name, ()) for name, value in filters.items()):
            # No product has that value: nothing can match, so the photo is not even embedded.
            return SimilarResult([], filters, size, preview_url if preview else "", box=photo.box)
        from visualsearch.ml.embedder import MODEL_VERSION

        inputs = photo.model_inputs()
        vector = query_embedding(inputs, embedder)
        stored = StoredQuery(vector, query_colour(inputs), photo.box, preview_url, MODEL_VERSION)
        token = store_query(stored)
    hits = rank_photo(index, stored.vector, stored.colour, k, filters)
    closeness = None
    if hits and index.photo_projection is not None:
        closeness = raw_photo_score(stored.vector, stored.colour, hits[0].product_id)
    return SimilarResult(
        products_for_hits(hits),
        filters,
        size,
        stored.preview_data_url if preview else "",
        index.model_version,
        token=token,
        box=stored.box,
        close_match=is_close_match(hits, closeness),
        query_vector=stored.vector,
    )
