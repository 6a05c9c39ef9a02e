from __future__ import annotations

from django import template

from wishlist.selectors import wishlist_count as _count
from wishlist.selectors import wishlist_ids

register = template.Library()


@register.simple_tag(takes_context=True)
def in_wishlist(context: template.Context, product_id: int) -> bool:
    request = context.get("request")
    return request is not None and product_id in wishlist_ids(request)


@register.simple_tag(takes_context=True)
def wishlist_count(context: template.Context) -> int:
    request = context.get("request")
    return _count(request) if request is not None else 0
