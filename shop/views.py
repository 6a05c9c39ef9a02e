"""Storefront pages: thin views over shop.selectors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_control

from shop import labels, selectors
from shop.caching import fragment_cached
from shop.money import money_format
from shop.pagination import IdsFirstPaginator
from shop.search import text_search
from shop.signals import catalogue_searched, product_viewed

PAGE_SIZE = 24
# Query-string parameters that make "/" the catalogue (old links to the catalogue at "/").
CATALOGUE_PARAMS = frozenset({"q", "sort", "page", "min_price", "max_price", selectors.SALE_PARAM, *selectors.FACETS})


def _without_nul(params: QueryDict) -> QueryDict:
    """The query string without NUL characters: PostgreSQL text cannot hold them, and a
    search or filter value containing one would fail the query (a 500)."""
    clean = QueryDict(mutable=True)
    for key, values in params.lists():
        clean.setlist(key, [value.replace("\x00", "") for value in values])
    return clean


@dataclass(frozen=True)
class Chip:
    """An active filter the shopper can remove on its own."""

    label: str
    value: str
    remove_url: str


def _query_string(params: list[tuple[str, str]]) -> str:
    return "?" + urlencode(params) if params else "?"


def _chips(params: QueryDict, query: selectors.CatalogueQuery) -> tuple[list[Chip], str]:
    """One chip per selected facet value and one for the price range, each linking to this
    page without it (back to page 1), and the "clear all" link (the search text and sort stay)."""
    kept = [(k, v) for k, values in params.lists() if k != "page" for v in values if v]
    chips = []
    for key, values in query.selected.items():
        for value in values:
            remaining = [(k, v) for k, v in kept if not (k == key and v == value)]
            chips.append(Chip(labels.attribute_label(key), labels.value_label(value, key), _query_string(remaining)))
    if query.price_filtered:
        parts = []
        if query.min_price is not None:
            parts.append(f"from {money_format(query.min_price)}")
        if query.max_price is not None:
            parts.append(f"up to {money_format(query.max_price)}")
        remaining = [(k, v) for k, v in kept if k not in {"min_price", "max_price"}]
        chips.append(Chip("Price", " ".join(parts), _query_string(remaining)))
    if query.on_sale:
        remaining = [(k, v) for k, v in kept if k != selectors.SALE_PARAM]
        chips.append(Chip("Offers", "On sale", _query_string(remaining)))
    clear_all = _query_string([(k, v) for k, v in kept if k in {"q", "sort"}])
    return chips, clear_all


def catalogue(request: HttpRequest) -> HttpResponse:
    params = _without_nul(request.GET)
    query = selectors.CatalogueQuery.from_querydict(params)
    version = selectors.catalogue_version()
    paginator = IdsFirstPaginator(
        selectors.product_list(query, version), PAGE_SIZE, count=selectors.product_count(query, version)
    )
    page = paginator.get_page(request.GET.get("page"))
    chips, clear_all = _chips(params, query)
    search = text_search(query.text, version) if query.text else None
    if query.text and not request.GET.get("page"):
        catalogue_searched.send(sender=None, request=request, text=query.text, count=paginator.count)
    sorts = [(key, label) for key, (label, _order) in selectors.SORTS.items()]
    if not query.text:
        sorts = [(key, label) for key, label in sorts if key != selectors.RELEVANCE]
    return render(
        request,
        "shop/catalogue.html",
        {
            "query": query,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
            "facets_html": _facets_html(request, params, query, version),
            "sorts": sorts,
            "chips": chips,
            "clear_all_url": clear_all,
            "close_matches": search.close_matches if search else [],
            "did_you_mean": search.did_you_mean if search else "",
            "heading": _heading(query),
            "legacy_root": request.path == "/",
        },
    )


FACETS_TEMPLATE = "shop/_facets.html"


def _facets_html(request: HttpRequest, params: QueryDict, query: selectors.CatalogueQuery, version: str) -> str:
    """The filters sidebar: its counts and its HTML computed once per catalogue version and
    query for every process (shop.caching); it shows nothing of the shopper's own."""

    def render() -> str:
        facets = selectors.facet_counts(query, version)
        shown = [
            (key, labels.attribute_label(key, label), facets[key])
            for key, (_field, label) in selectors.FACETS.items()
            if facets[key] and (key not in labels.HIDDEN_FACETS or key in query.selected)
        ]
        return render_to_string(FACETS_TEMPLATE, {"query": query, "facets": shown})

    wanted = sorted((k, v) for k, values in params.lists() if k != "page" for v in values)
    key = f"{version}:{hashlib.sha1(urlencode(wanted).encode()).hexdigest()}"
    return mark_safe(fragment_cached(FACETS_TEMPLATE, key, render))  # our own template's output


def _heading(query: selectors.CatalogueQuery) -> str:
    if query.text:
        return f"Results for “{query.text}”"
    values = [labels.value_label(value, key) for key, values in query.selected.items() for value in values]
    if query.on_sale:
        return " · ".join(["Sale", *values])
    return " · ".join(values) if values else "All products"


def home(request: HttpRequest) -> HttpResponse:
    """The home page; with catalogue parameters (old links to "/?q=…") the catalogue itself."""
    if CATALOGUE_PARAMS.intersection(request.GET):
        return catalogue(request)
    version = selectors.catalogue_version()
    rows = selectors.home_rows(version)
    sections = [
        {
            "section": section,
            "url": _catalogue_url(section.params),
            "products": products,
            "image": products[0].card_image_url if products else "",
        }
        for section, products in rows
    ]
    return render(request, "shop/home.html", {"sections": sections, "sections_rows": rows})


def _catalogue_url(params: tuple[tuple[str, str], ...]) -> str:
    from django.urls import reverse

    return reverse("shop:catalogue") + _query_string(list(params))


def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = selectors.product_get(product_id)
    if product is None:
        raise Http404("No such product.")
    product_viewed.send(sender=None, request=request, product_id=product.pk)
    crumbs = [
        (labels.value_label(product.master_category, "master"), (("master", product.master_category),)),
        (
            labels.value_label(product.sub_category, "sub"),
            (("master", product.master_category), ("sub", product.sub_category)),
        ),
        (
            labels.value_label(product.article_type, "type"),
            (("master", product.master_category), ("sub", product.sub_category), ("type", product.article_type)),
        ),
    ]
    return render(
        request,
        "shop/product_detail.html",
        {
            "product": product,
            "more": selectors.product_more_in_category(product),
            "more_heading": labels.more_like_heading(product.article_type, product.gender),
            "breadcrumbs": [(label, _catalogue_url(params)) for label, params in crumbs],
        },
    )


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico: the static icon (browsers and the admin ask for it whatever a page links)."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))
