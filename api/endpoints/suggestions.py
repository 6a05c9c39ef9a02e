"""Suggestions as the shopper types (the header's search box uses this endpoint): product
types, brands, colours and products, over shop.search.suggestions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from ninja import Query, Router

from api.schemas import SuggestionsOut, errors
from api.security import Limit
from shop import selectors
from shop.search.suggestions import DEFAULT_SUGGESTIONS, MAX_SUGGESTIONS, MAX_TEXT, search_suggestions

router = Router(tags=["catalogue"])
CACHE_SECONDS = 60


@router.get(
    "/suggestions",
    response={200: SuggestionsOut, **errors(400, 401, 403, 429)},
    throttle=[Limit("read")],
    summary="Suggestions for a search box: product types, brands, colours, products",
)
def suggestions_list(
    request: HttpRequest,
    response: HttpResponse,
    q: str = Query(..., min_length=1, max_length=MAX_TEXT, description="What the shopper has typed so far."),
    limit: int = Query(DEFAULT_SUGGESTIONS, ge=1, le=MAX_SUGGESTIONS, description="How many suggestions, at most."),
) -> dict[str, Any]:
    """Product types, brands and colours whose names start with (a word starting with) ``q``,
    commonest first, then products the text search finds for it; each with the storefront URL
    that opens it. A typo with nothing matching gets the closest names. Answers may be cached
    for a minute."""
    found = search_suggestions(q, selectors.catalogue_version(), limit)
    patch_cache_control(response, max_age=CACHE_SECONDS)
    return {
        "query": q,
        "suggestions": [
            {"kind": s.kind, "kind_label": s.kind_label, "label": s.label, "url": s.url, "count": s.count}
            for s in found
        ],
    }
