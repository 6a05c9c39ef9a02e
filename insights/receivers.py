"""Insights listen to the other apps' announcements and append an event to the buffer (no
database write in the request): text searches (shop), visual searches (visualsearch), product
pages reached from a visual search's results, adds to bag (bag) and orders (orders) that follow a
visual search in the same browser session."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from bag.signals import bag_line_added
from insights import buffer
from insights.conf import insights_settings
from insights.models import EventKind
from insights.touch import touch_get, touch_set
from orders.models import Order
from orders.signals import order_placed
from shop.signals import catalogue_searched, product_viewed
from visualsearch.signals import visual_search_answered


def _now() -> str:
    return timezone.now().isoformat()


def _push(kind: str, **fields: Any) -> None:
    if insights_settings.RECORD:
        buffer.event_push({"kind": kind, "at": _now(), **fields})


@receiver(catalogue_searched)
def record_text_search(sender: object, request: HttpRequest, text: str, count: int, **kwargs: object) -> None:
    _push(EventKind.TEXT, text=text[:200], results=count)


@receiver(visual_search_answered)
def record_visual_search(
    sender: object, request: HttpRequest, kind: str, product_id: int | None, result: Any, **kwargs: object
) -> None:
    if not insights_settings.RECORD:
        return
    products = [item.product.pk for item in result.results]
    nothing_close = kind == EventKind.PHOTO and (not products or not result.close_match)
    event: dict[str, Any] = {"product": product_id, "results": len(products), "nothing_close": nothing_close}
    vector = getattr(result, "query_vector", None)
    if nothing_close and vector is not None:
        rows = np.asarray(vector, np.float32).reshape(-1, np.asarray(vector).shape[-1])
        event["vector"] = base64.b64encode(rows.mean(axis=0).astype("<f4").tobytes()).decode("ascii")
        if insights_settings.KEEP_PREVIEWS and result.preview_data_url:
            # The page's preview; the flush shrinks it to PREVIEW_PIXELS before storing it.
            event["preview"] = result.preview_data_url
    _push(kind, **event)
    touch_set(request, kind, products)


@receiver(product_viewed)
def record_click_through(sender: object, request: HttpRequest, product_id: int, **kwargs: object) -> None:
    touch = touch_get(request)
    if touch is not None and product_id in touch.products:
        _push(EventKind.CLICK, via=touch.kind, product=product_id)


@receiver(bag_line_added)
def record_bag_add(sender: object, request: HttpRequest, product_id: int, quantity: int, **kwargs: object) -> None:
    touch = touch_get(request)
    if touch is not None:
        _push(EventKind.BAG, via=touch.kind, product=product_id, quantity=quantity)


@receiver(order_placed)
def record_order(sender: object, order: Order, request: HttpRequest, **kwargs: object) -> None:
    touch = touch_get(request)
    if touch is not None:
        _push(EventKind.ORDER, via=touch.kind, order=order.pk, revenue=str(order.subtotal))


@receiver(request_finished)
def flush_in_process(sender: object, **kwargs: object) -> None:
    """Without Redis (the embedded default) the events are written after the response."""
    if not buffer.uses_redis() and buffer.events_waiting():
        from insights.services import events_flush

        events_flush()
