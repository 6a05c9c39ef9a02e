from __future__ import annotations

from django import template

from shop.models import Product
from stockalerts.forms import NotifyForm

register = template.Library()


@register.simple_tag(takes_context=True)
def notify_form(context: template.Context, product: Product) -> NotifyForm | None:
    """The "Notify me" form for a product with a sold-out size (None when every size is in
    stock), the signed-in shopper's e-mail filled in."""
    if not product.is_active or all(v.in_stock for v in product.variant_list):
        return None
    request = context.get("request")
    user = getattr(request, "user", None)
    initial = {"email": user.email} if user is not None and user.is_authenticated else {}
    return NotifyForm(initial=initial, product=product)
