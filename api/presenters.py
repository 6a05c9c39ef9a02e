"""Products, search results and bags as the API's schemas (plain dicts ninja validates)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest

from bag.selectors import BagSummary
from shop.conf import shop_settings
from shop.models import Product, ProductVariant
from visualsearch.conf import vs_settings
from visualsearch.query.similar import SimilarResult
from visualsearch.selectors import SimilarProduct


def price(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _absolute(request: HttpRequest, url: str) -> str:
    return request.build_absolute_uri(url) if url else ""


def sale(product: Product) -> dict[str, Any]:
    """The compare-at price and the discount (both null when the product is not on sale)."""
    on_sale = product.on_sale
    return {
        "compare_at_price": price(product.compare_at_price) if on_sale else None,
        "discount_percent": product.discount_percent,
    }


def size(variant: ProductVariant) -> dict[str, Any]:
    return {"id": variant.pk, "size": variant.size, "stock": variant.stock, "in_stock": variant.stock > 0}


def product_summary(request: HttpRequest, product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "external_id": product.external_id,
        "name": product.name,
        "gender": product.gender,
        "master_category": product.master_category,
        "sub_category": product.sub_category,
        "article_type": product.article_type,
        "colour": product.base_colour,
        "season": product.season,
        "year": product.year,
        "usage": product.usage,
        "price": price(product.price),
        **sale(product),
        "currency": shop_settings.CURRENCY,
        "in_stock": product.in_stock,
        "image_url": _absolute(request, product.card_image_url),
        "url": _absolute(request, product.get_absolute_url()),
    }


def product_detail(request: HttpRequest, product: Product) -> dict[str, Any]:
    return {
        **product_summary(request, product),
        "full_image_url": _absolute(request, product.image.url if product.image else ""),
        "sizes": [size(v) for v in product.variant_list],
    }


def _results(
    request: HttpRequest, results: list[SimilarProduct], exact_match: SimilarProduct | None
) -> list[dict[str, Any]]:
    """Search results, the exact match among them flagged ``exact``."""
    exact_id = exact_match.product.pk if exact_match is not None else None
    return [_similar_item(request, item, exact=item.product.pk == exact_id) for item in results]


def similar(request: HttpRequest, result: SimilarResult, *, photo: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "results": _results(request, result.results, result.exact_match),
        "filters": result.filters,
        "model_version": result.model_version,
    }
    if photo:
        body |= {
            "token": result.token or None,
            "token_expires_in": int(vs_settings.QUERY_TOKEN_SECONDS) if result.token else None,
            "box": list(result.box) if result.box is not None else None,
            "close_match": result.close_match,
            "exact_match": _similar_item(request, result.exact_match, exact=True) if result.exact_match else None,
            "item": result.selected_item,
            "items": [
                {
                    "box": list(entry.box),
                    "score": entry.score,
                    "source": entry.source,
                    "close_match": entry.close_match,
                    "exact_match": _similar_item(request, entry.exact_match, exact=True) if entry.exact_match else None,
                    "results": _results(request, entry.results, entry.exact_match),
                }
                for entry in result.items
            ],
        }
    return body


def _similar_item(request: HttpRequest, item: SimilarProduct, *, exact: bool = False) -> dict[str, Any]:
    return {
        "id": item.product.pk,
        "external_id": item.product.external_id,
        "name": item.product.name,
        "article_type": item.product.article_type,
        "colour": item.product.base_colour,
        "price": price(item.product.price),
        **sale(item.product),
        "currency": shop_settings.CURRENCY,
        "in_stock": item.product.in_stock,
        "score": round(item.score, 6),
        "image_url": _absolute(request, item.product.card_image_url),
        "url": _absolute(request, item.product.get_absolute_url()),
        "exact": exact,
    }


def bag(request: HttpRequest, summary: BagSummary, token: str | None) -> dict[str, Any]:
    return {
        "token": token,
        "count": summary.count,
        "subtotal": price(summary.subtotal),
        "currency": shop_settings.CURRENCY,
        "has_problems": summary.has_problems,
        "lines": [
            {
                "id": line.line.pk,
                "product_id": line.product.pk,
                "name": line.product.name,
                "variant_id": line.variant.pk,
                "size": line.variant.size,
                "quantity": line.quantity,
                "unit_price": price(line.unit_price),
                "line_total": price(line.line_total),
                "price_was": price(line.price_was),
                "problem": line.problem,
                "image_url": _absolute(request, line.product.card_image_url),
                "sizes": [size(v) for v in line.sizes],
            }
            for line in summary.lines
        ],
    }
