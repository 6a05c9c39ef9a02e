"""Reads of the back-in-stock alerts."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest

from shop.models import ProductVariant
from stockalerts.models import StockAlert


def stock_alerts_waiting_exist(product_ids: Iterable[int]) -> bool:
    """Whether anyone waits for one of these products (one cheap query on every stock change)."""
    ids = list(product_ids)
    return bool(ids) and StockAlert.objects.filter(product_id__in=ids, status=StockAlert.Status.WAITING).exists()


def stock_alerts_due(product_ids: Iterable[int]) -> list[int]:
    """The waiting alerts of these products whose product or size can be bought again: the
    product is active and the size has stock (no size: any size of the product has)."""
    any_size = ProductVariant.objects.filter(product_id=OuterRef("product_id"), stock__gt=0)
    return list(
        StockAlert.objects.filter(
            product_id__in=list(product_ids), status=StockAlert.Status.WAITING, product__is_active=True
        )
        .filter((Q(variant__isnull=True) & Exists(any_size)) | Q(variant__isnull=False, variant__stock__gt=0))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def stock_alert_is_due(alert: StockAlert) -> bool:
    """The same test as ``stock_alerts_due`` for one alert read under its lock."""
    if not alert.product.is_active:
        return False
    if alert.variant_id is not None:
        return ProductVariant.objects.filter(pk=alert.variant_id, stock__gt=0).exists()
    return ProductVariant.objects.filter(product_id=alert.product_id, stock__gt=0).exists()


SESSION_KEY = "stockalerts_products"


def subscribed_in_session(request: HttpRequest) -> list[int]:
    """Products this browser session asked to be told about (to say so instead of the form)."""
    session = getattr(request, "session", None)
    raw = session.get(SESSION_KEY, []) if session is not None else []
    return [x for x in raw if isinstance(x, int)] if isinstance(raw, list) else []
