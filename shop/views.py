"""Storefront pages: thin views over shop.selectors."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from shop import selectors
from shop.pagination import IdsFirstPaginator

PAGE_SIZE = 24


def _without_nul(params: QueryDict) -> QueryDict:
    """The query string without NUL characters: PostgreSQL text cannot hold them, and a
    search or filter value containing one would fail the query (a 500)."""
    clean = QueryDict(mutable=True)
    for key, values in params.lists():
        clean.setlist(key, [value.replace("\x00", "") for value in values])
    return clean


def catalogue(request: HttpRequest) -> HttpResponse:
    query = selectors.CatalogueQuery.from_querydict(_without_nul(request.GET))
    version = selectors.catalogue_version()
    paginator = IdsFirstPaginator(
        selectors.product_list(query), PAGE_SIZE, count=selectors.product_count(query, version)
    )
    page = paginator.get_page(request.GET.get("page"))
    facets = selectors.facet_counts(query, version)
    return render(
        request,
        "shop/catalogue.html",
        {
            "query": query,
            "page": page,
            "facets": [(key, label, facets[key]) for key, (_field, label) in selectors.FACETS.items() if facets[key]],
            "sorts": [(key, label) for key, (label, _order) in selectors.SORTS.items()],
            "active_filters": [
                (key, selectors.FACETS[key][1], value) for key, values in query.selected.items() for value in values
            ],
        },
    )


def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_get(product_id)
    if product is None:
        raise Http404("No such product.")
    return render(
        request,
        "shop/product_detail.html",
        {"product": product, "more": selectors.product_more_in_category(product)},
    )
