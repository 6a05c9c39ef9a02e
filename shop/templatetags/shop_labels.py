"""``{% load shop_labels %}``: shopper-friendly names (``{{ product.article_type|shopper_label:"type" }}``)."""

from __future__ import annotations

from django import template

from shop import labels

register = template.Library()


@register.filter
def shopper_label(value: object, attribute: str = "") -> str:
    """ "Tshirts"|shopper_label:"type" → "T-shirts": the value's name for shoppers as a value of
    that attribute (its query-string parameter); values without a display name show as they are."""
    return labels.value_label(value, attribute)


@register.filter
def attribute_label(param: str) -> str:
    """A facet parameter's name for shoppers ("sub" → "Category")."""
    return labels.attribute_label(param)


@register.filter
def more_like_heading(product: object) -> str:
    return labels.more_like_heading(getattr(product, "article_type", ""), getattr(product, "gender", ""))
