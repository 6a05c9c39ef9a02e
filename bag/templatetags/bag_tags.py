"""``{% bag_count %}``: how many units the request's bag holds (the header badge)."""

from __future__ import annotations

from django import template

from bag.selectors import bag_item_count
from bag.services import SESSION_KEY

register = template.Library()


@register.simple_tag(takes_context=True)
def bag_count(context: template.Context) -> int:
    request = context.get("request")
    if request is None:
        return 0
    cached = getattr(request, "_bag_count", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        count = bag_item_count(user_id=user.pk)
    else:
        session = getattr(request, "session", None)
        count = bag_item_count(session.get(SESSION_KEY)) if session is not None else 0
    request._bag_count = count
    return count
