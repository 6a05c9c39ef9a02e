"""Find similar and photo search, over visualsearch.query (called, never reached into)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

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
from visualsearch.query.pricing import LOOK, PriceRule
from visualsearch.query.similar import similar_to_photo, similar_to_product
from visualsearch.selectors import IN_STOCK_PARAM, REFINEMENTS

router = Router(tags=["visual search"])

PriceSort = Literal["look", "price", "-price"]
SORT_HELP = (
    "look: best match first; price / -price: the best lookalikes (within the price rule), cheapest / dearest first."
)


class SimilarIn(Schema):
    k: int = Field(5, ge=1, le=1000, description="How many results; capped at VISUALSEARCH_MAX_K.")
    same_gender: bool = False
    same_master: bool = Field(False, description="Keep the product's category.")
    same_sub: bool = Field(False, description="Keep the product's sub category.")
    same_type: bool = Field(False, description="Keep the product's article type.")
    same_colour: bool = False
    in_stock: bool = Field(False, description="Only products with a size in stock.")
    min_price: float | None = Field(None, ge=0, lt=1e8, description="Only products priced at least this.")
    max_price: float | None = Field(None, ge=0, lt=1e8, description="Only products priced at most this.")
    cheaper: bool = Field(False, description="Similar, but cheaper: only products priced below this one.")
    sort: PriceSort = Field("look", description=SORT_HELP)


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
    cheaper: bool = Field(False, description="Only products priced below the best match (which is left out).")
    max_price: float | None = Field(None, ge=0, lt=1e8, description="Only products priced at most this.")
    sort: PriceSort = Field("look", description=SORT_HELP)


def _k(k: int) -> int:
    return min(k, int(vs_settings.MAX_K))


def _price_rule(params: SimilarIn | PhotoIn | PhotoRefineIn) -> PriceRule | None:
    """The request's price rule (None when it asks nothing of the price)."""

    def amount(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))

    rule = PriceRule(
        cheaper=params.cheaper,
        max_price=amount(params.max_price),
        min_price=amount(getattr(params, "min_price", None)),
        sort=params.sort,
    )
    return rule if rule.restricts or rule.sort != LOOK else None


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
    type). With ``cheaper`` or price bounds, the nearest VISUALSEARCH_PRICE_CANDIDATES (100) by
    look are searched and the k most alike within the price kept; ``sort`` orders those k.
    409: the product is still being analysed; 503: no analysed products yet."""
    product = product_get(product_id, with_sizes=False)  # the query product: no sizes shown
    if product is None:
        raise NotFound(f"No active product with id {product_id}.")
    toggles = {key: "on" for key in [*REFINEMENTS, IN_STOCK_PARAM] if getattr(params, key, False)}
    result = similar_to_product(product, k=_k(params.k), toggles=toggles, price=_price_rule(params))
    return presenters.similar(request, result)


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
    result = similar_to_photo(
        image.read(), box=box, k=_k(form.k), filters=filters, preview=False, price=_price_rule(form)
    )
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
    result = similar_to_photo(
        token=params.q, k=_k(params.k), filters=filters, preview=False, item=params.item, price=_price_rule(params)
    )
    return presenters.similar(request, result, photo=True)


def _filter_params(params: PhotoIn | PhotoRefineIn) -> dict[str, Any]:
    values = params.dict(exclude={"cheaper", "max_price", "sort"})
    values[IN_STOCK_PARAM] = "on" if params.in_stock else ""
    return {key: str(value).replace("\x00", "") for key, value in values.items() if value not in (None, "")}
