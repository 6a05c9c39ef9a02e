from __future__ import annotations

from django import template

from shop.models import Product
from stockalerts.forms import NotifyForm
from stockalerts.selectors import subscribed_in_session

register = template.Library()


@register.simple_tag(takes_context=True)
def notify_form(context: template.Context, product: Product) -> NotifyForm | None:
    """The "Notify me" form for a product with a sold-out size (None when every size is in
    stock), the signed-in shopper's e-mail filled in."""
    if not product.is_active or all(v.in_stock for v in product.variant_list):
        return None
    request = context.get("request")
    if request is not None and product.pk in subscribed_in_session(request):
        return None
    user = getattr(request, "user", None)
    initial = {"email": user.email} if user is not None and user.is_authenticated else {}
    return NotifyForm(initial=initial, product=product)


@register.simple_tag(takes_context=True)
def notify_subscribed(context: template.Context, product: Product) -> bool:
    """Whether this browser asked to be told about this product (shown instead of the form)."""
    request = context.get("request")
    if request is None or all(v.in_stock for v in product.variant_list):
        return False
    return product.pk in subscribed_in_session(request)
