"""What changes insights' data: moving buffered events into the database, deleting old
"nothing close" photos, and the duplicates page's two actions."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from PIL import Image, UnidentifiedImageError

from insights import buffer
from insights.conf import insights_settings
from insights.models import DistinctPair, EventKind, SearchEvent, UnmatchedPhoto
from orders.models import Order
from shop.models import Product
from shop.services import catalogue_changes_announce


def preview_shrink(data_url: str, pixels: int | None = None) -> bytes | None:
    """A JPEG of at most ``pixels`` on its longer side from a page's preview data: URL."""
    pixels = pixels or insights_settings.PREVIEW_PIXELS
    try:
        raw = base64.b64decode(data_url.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            small = image.convert("RGB")
            small.thumbnail((pixels, pixels))
    except (IndexError, ValueError, OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=75)
    return out.getvalue()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _rows(events: list[dict[str, Any]]) -> tuple[list[SearchEvent], list[UnmatchedPhoto]]:
    product_ids = {pid for e in events if (pid := _int(e.get("product"))) is not None}
    order_ids = {oid for e in events if (oid := _int(e.get("order"))) is not None}
    products = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
    orders = set(Order.objects.filter(pk__in=order_ids).values_list("pk", flat=True))
    rows: list[SearchEvent] = []
    photos: list[UnmatchedPhoto] = []
    for event in events:
        kind = event.get("kind")
        at = parse_datetime(str(event.get("at") or ""))
        if kind not in EventKind.values or at is None:
            continue
        product = _int(event.get("product"))
        order = _int(event.get("order"))
        if kind == EventKind.ORDER and order not in orders:
            continue
        rows.append(
            SearchEvent(
                kind=kind,
                at=at,
                via=str(event.get("via") or "")[:10],
                product_id=product if product in products else None,
                text=str(event.get("text") or "")[:200],
                results=_int(event.get("results")),
                nothing_close=bool(event.get("nothing_close")),
                quantity=_int(event.get("quantity")),
                order_id=order if order in orders else None,
                revenue=_money(event.get("revenue")),
            )
        )
        if event.get("vector"):
            preview = event.get("preview")
            photos.append(
                UnmatchedPhoto(
                    at=at,
                    vector=base64.b64decode(event["vector"]),
                    preview=preview_shrink(preview) if preview and insights_settings.KEEP_PREVIEWS else None,
                )
            )
    return rows, photos


def events_flush() -> int:
    """Move every buffered event into the database, in batches; the number written. An order
    counted once already (the same checkout submitted twice) is not counted again."""
    written = 0
    while True:
        events = buffer.events_take(insights_settings.FLUSH_BATCH)
        if not events:
            return written
        rows, photos = _rows(events)
        with transaction.atomic():
            SearchEvent.objects.bulk_create(rows, ignore_conflicts=True)
            UnmatchedPhoto.objects.bulk_create(photos)
        written += len(rows)


def unmatched_photos_prune(*, now: datetime | None = None) -> int:
    """Delete the "nothing close" photos (vector and preview) older than the retention period;
    with previews turned off, delete the previews still kept too. How many rows went."""
    cutoff = (now or timezone.now()) - timedelta(days=insights_settings.RETENTION_DAYS)
    deleted, _ = UnmatchedPhoto.objects.filter(at__lt=cutoff).delete()
    if not insights_settings.KEEP_PREVIEWS:
        UnmatchedPhoto.objects.exclude(preview=None).update(preview=None)
    return deleted


def duplicate_pair_mark_distinct(
    first_id: int, second_id: int, *, user: AbstractBaseUser | AnonymousUser | None = None
) -> DistinctPair:
    """Remember that these two products are different products (same picture or not)."""
    low, high = sorted((int(first_id), int(second_id)))
    pair, _ = DistinctPair.objects.get_or_create(
        first_id=low,
        second_id=high,
        defaults={"marked_by": user if isinstance(user, User) else None},
    )
    return pair


def product_deactivate(product_id: int) -> Product | None:
    """Take a product off the shop (it stays in the admin); announced like every change."""
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        return None
    with transaction.atomic():
        Product.objects.filter(pk=product_id).update(is_active=False)
        catalogue_changes_announce([product_id])
    product.is_active = False
    return product
