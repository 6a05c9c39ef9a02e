"""Find similar and photo search, over visualsearch.query (called, never reached into)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from api import links, presenters
from api.schemas import Id, PhotoRefineIn, PhotoSearchOut, SimilarOut, errors
from api.security import Limit, photo_limit
from core.errors import InvalidInput, NotFound
from shop.selectors import product_get
from visualsearch.conf import vs_settings
from visualsearch.query.params import explicit_filters
from visualsearch.query.photo import parse_box, validate_upload_size
from visualsearch.query.similar import SimilarResult, similar_to_photo, similar_to_product
from visualsearch.selectors import IN_STOCK_PARAM, REFINEMENTS

router = Router(tags=["visual search"])


class SimilarIn(Schema):
    k: int = Field(5, ge=1, le=1000, description="How many results; capped at VISUALSEARCH_MAX_K.")
    same_gender: bool = False
    same_master: bool = Field(False, description="Keep the product's category.")
    same_sub: bool = Field(False, description="Keep the product's sub category.")
    same_type: bool = Field(False, description="Keep the product's article type.")
    same_colour: bool = False
    in_stock: bool = Field(False, description="Only products with a size in stock.")
    min_price: float | None = Field(None, ge=0, lt=1e8)
    max_price: float | None = Field(None, ge=0, lt=1e8)


class PhotoIn(Schema):
    box: str | None = Field(
        None, max_length=100, description="The region to search: x0,y0,x1,y1 in 0–1 (default: borders trimmed)."
    )
    k: int = Field(5, ge=1, le=1000)
    gender: str = Field("", max_length=50)
    master: str = Field("", max_length=50)
    sub: str = Field("", max_length=50)
    type: str = Field("", max_length=50)
    colour: str = Field("", max_length=50)
    in_stock: bool = False


def _k(k: int) -> int:
    return min(k, int(vs_settings.MAX_K))


def _price_bounded(result: SimilarResult, low: float | None, high: float | None, k: int) -> SimilarResult:
    """Keep the results priced within the bounds (the index ranks by look; price is the shop's)."""
    if low is None and high is None:
        return result
    lo = Decimal(str(low)) if low is not None else None
    hi = Decimal(str(high)) if high is not None else None
    kept = [
        item
        for item in result.results
        if item.product.price is not None
        and (lo is None or item.product.price >= lo)
        and (hi is None or item.product.price <= hi)
    ]
    result.results = kept[:k]
    result.filters = {**result.filters, "min_price": low, "max_price": high}
    return result


@router.get(
    "/products/{product_id}/similar",
    response={200: SimilarOut, **errors(400, 401, 403, 404, 409, 429, 503)},
    throttle=[Limit("read", "similar_api")],
    summary="Find similar: the products that look most like this one",
    openapi_extra=links.SIMILAR_FOUND,
)
def product_similar(
    request: HttpRequest,
    params: Query[SimilarIn],
    product_id: Id,
) -> dict[str, Any]:
    """Refinements keep the product's own value of an attribute (``same_type``: only its article
    type). With price bounds, the nearest VISUALSEARCH_MAX_K are searched and those priced within
    the bounds kept. 409: the product is still being analysed; 503: no analysed products yet."""
    product = product_get(product_id)
    if product is None:
        raise NotFound(f"No active product with id {product_id}.")
    k = _k(params.k)
    priced = params.min_price is not None or params.max_price is not None
    toggles = {key: "on" for key in [*REFINEMENTS, IN_STOCK_PARAM] if getattr(params, key, False)}
    result = similar_to_product(product, k=int(vs_settings.MAX_K) if priced else k, toggles=toggles)
    return presenters.similar(request, _price_bounded(result, params.min_price, params.max_price, k))


@router.post(
    "/search/photo",
    response={200: PhotoSearchOut, **errors(400, 401, 403, 413, 429, 503)},
    throttle=[photo_limit()],
    summary="Search by photo (multipart upload)",
    openapi_extra=links.PHOTO_SEARCHED,
)
def photo_search(request: HttpRequest, image: File[UploadedFile], form: Form[PhotoIn]) -> dict[str, Any]:
    """The products that look most like the photo's ``box``. The answer's ``token`` refines the
    same search later without the photo (GET ``/search/photo?q=…``)."""
    validate_upload_size(image.size or 0)
    box = parse_box(form.box)
    filters = explicit_filters(_filter_params(form))
    result = similar_to_photo(image.read(), box=box, k=_k(form.k), filters=filters, preview=False)
    return presenters.similar(request, result, photo=True)


@router.get(
    "/search/photo",
    response={200: PhotoSearchOut, **errors(400, 401, 403, 410, 429, 503)},
    throttle=[Limit("read", "photo_search")],
    summary="Refine a photo search by its token, without the photo",
)
def photo_refine(request: HttpRequest, params: Query[PhotoRefineIn]) -> dict[str, Any]:
    """Re-rank a kept photo search (``q``: its token) with other filters; no model runs.
    410: the token expired (VISUALSEARCH_QUERY_TOKEN_SECONDS) or is unknown."""
    if "\x00" in params.q:
        raise InvalidInput("q is not a search token.")
    filters = explicit_filters(_filter_params(params))
    result = similar_to_photo(token=params.q, k=_k(params.k), filters=filters, preview=False, item=params.item)
    return presenters.similar(request, result, photo=True)


def _filter_params(params: PhotoIn | PhotoRefineIn) -> dict[str, Any]:
    values = params.dict()
    values[IN_STOCK_PARAM] = "on" if params.in_stock else ""
    return {key: str(value).replace("\x00", "") for key, value in values.items() if value not in (None, "")}
