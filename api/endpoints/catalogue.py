"""Products (the storefront's filters, sort, text search, pages), one product, and facets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.paginator import EmptyPage
from django.http import HttpRequest, QueryDict
from ninja import Query, Router

from api import links, presenters
from api.conf import api_settings
from api.schemas import Facets, Id, ProductDetail, ProductFilters, ProductPage, Sort, errors
from api.security import Limit
from core.errors import NotFound
from shop import labels, selectors
from shop.pagination import IdsFirstPaginator

router = Router(tags=["catalogue"])


def catalogue_query(filters: ProductFilters, sort: str | None = None) -> selectors.CatalogueQuery:
    """The shop's own query object, from the API's filters (the storefront's rules apply)."""
    params = QueryDict(mutable=True)
    if filters.q:
        params["q"] = filters.q
    for key in selectors.FACETS:
        params.setlist(key, getattr(filters, key, []))
    if sort:
        params["sort"] = sort
    query = selectors.CatalogueQuery.from_querydict(params)
    query.min_price = None if filters.min_price is None else Decimal(str(filters.min_price))
    query.max_price = None if filters.max_price is None else Decimal(str(filters.max_price))
    query.on_sale = filters.sale
    return query


@router.get(
    "/products",
    response={200: ProductPage, **errors(400, 401, 403, 429)},
    throttle=[Limit("read")],
    summary="List products",
    openapi_extra=links.PRODUCTS_LISTED,
)
def products_list(
    request: HttpRequest,
    filters: Query[ProductFilters],
    sort: Sort | None = None,
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(None, ge=1, le=1000, description="Default API_PAGE_SIZE; at most API_MAX_PAGE_SIZE."),
) -> dict[str, Any]:
    """Active products matching the filters, in the sort order (``relevance`` needs ``q``;
    without it the order is ``newest``). A page past the end is empty."""
    query = catalogue_query(filters, sort)
    version = selectors.catalogue_version()
    size = min(page_size or api_settings.PAGE_SIZE, api_settings.MAX_PAGE_SIZE)
    paginator = IdsFirstPaginator(
        selectors.product_list(query, version), size, count=selectors.product_count(query, version)
    )
    try:
        products = list(paginator.page(page).object_list)
    except EmptyPage:
        products = []
    return {
        "count": paginator.count,
        "page": page,
        "pages": paginator.num_pages if paginator.count else 0,
        "page_size": size,
        "sort": query.sort,
        "results": [presenters.product_summary(request, p) for p in products],
    }


@router.get(
    "/products/{product_id}",
    response={200: ProductDetail, **errors(400, 401, 403, 404, 429)},
    throttle=[Limit("read")],
    summary="One product: sizes, stock, price, images",
    openapi_extra=links.PRODUCT_READ,
)
def product_detail(request: HttpRequest, product_id: Id) -> dict[str, Any]:
    product = selectors.product_get(product_id)
    if product is None:
        raise NotFound(f"No active product with id {product_id}.")
    return presenters.product_detail(request, product)


@router.get(
    "/facets",
    response={200: Facets, **errors(400, 401, 403, 429)},
    throttle=[Limit("read")],
    summary="Attribute values and their counts for a query",
)
def facets_list(request: HttpRequest, filters: Query[ProductFilters]) -> dict[str, Any]:
    """For each attribute, its values with counts. An attribute's counts apply every other
    filter but its own (the alternatives to what was picked), as in the storefront's sidebar."""
    query = catalogue_query(filters)
    version = selectors.catalogue_version()
    counts = selectors.facet_counts(query, version)
    return {
        "count": selectors.product_count(query, version),
        "facets": [
            {
                "param": key,
                "label": labels.attribute_label(key, label),
                "values": [
                    {
                        "value": v.value,
                        "label": labels.value_label(v.value, key),
                        "count": v.count,
                        "selected": v.selected,
                    }
                    for v in counts[key]
                ],
            }
            for key, (_field, label) in selectors.FACETS.items()
        ],
    }
