"""Writes of the back-in-stock alerts: subscribe, unsubscribe, and the one e-mail per alert
when its product or size is back.

Sending is idempotent under retries and concurrent restocks: each alert is sent inside a
transaction that holds its row (``SELECT … FOR UPDATE SKIP LOCKED``) and marks it notified
before committing; another task that reaches the same alert meanwhile skips it, and one that
comes after finds it no longer waiting. A failed send rolls back: the alert stays waiting and
the task's retry sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound
from shop.models import Product, ProductVariant
from stockalerts.conf import stockalerts_settings
from stockalerts.models import StockAlert
from stockalerts.selectors import stock_alert_is_due, stock_alerts_due
from stockalerts.tokens import alert_id_from_token, unsubscribe_token

logger = logging.getLogger(__name__)

BAD_LINK = "This unsubscribe link is not valid (it may have been cut short by your e-mail program)."


@dataclass(frozen=True)
class Subscribed:
    alert: StockAlert
    created: bool  # False: this address was already waiting for it


def _email_clean(email: str) -> str:
    return (email or "").strip().lower()


def stock_alert_subscribe(
    *, product: Product, email: str, variant: ProductVariant | None = None, user_id: int | None = None
) -> Subscribed:
    """Ask for one e-mail when ``product`` (or its size ``variant``) can be bought again.

    Refused (InvalidInput / Conflict) for an inactive product, a size of another product, and
    what is in stock now; subscribing twice keeps the one waiting alert."""
    email = _email_clean(email)
    if not email:
        raise InvalidInput("Please give your e-mail address.")
    if not product.is_active:
        raise NotFound("This product is no longer sold.")
    if variant is not None:
        if variant.product_id != product.pk:
            raise InvalidInput("Please choose one of this product's sizes.")
        if variant.stock > 0:
            raise Conflict(f"Size {variant.size} is in stock now: you can add it to your bag.")
    elif ProductVariant.objects.filter(product=product, stock__gt=0).exists():
        raise Conflict("This product is in stock now: choose your size and add it to your bag.")
    waiting = StockAlert.objects.filter(status=StockAlert.Status.WAITING)
    existing = waiting.filter(product=product, variant=variant, email=email).first()
    if existing is not None:
        return Subscribed(existing, False)
    if waiting.filter(email=email).count() >= int(stockalerts_settings.MAX_WAITING_PER_EMAIL):
        raise InvalidInput("This address already waits for many products; we will write as they come back.")
    try:
        with transaction.atomic():
            alert = StockAlert.objects.create(product=product, variant=variant, email=email, user_id=user_id)
    except IntegrityError:  # the same form sent twice at once: the other request made it
        return Subscribed(waiting.get(product=product, variant=variant, email=email), False)
    return Subscribed(alert, True)


def stock_alert_unsubscribe(token: str) -> StockAlert:
    """Stop the alert the link's token names (no e-mail will go). Idempotent: an alert
    already unsubscribed or notified is left as it is. NotFound for a bad token."""
    alert_id = alert_id_from_token(token)
    alert = StockAlert.objects.select_related("product", "variant").filter(pk=alert_id).first() if alert_id else None
    if alert is None:
        raise NotFound(BAD_LINK)
    updated = StockAlert.objects.filter(pk=alert.pk, status=StockAlert.Status.WAITING).update(
        status=StockAlert.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )
    if updated:
        alert.refresh_from_db()
    return alert


def stock_alerts_send(product_ids: Iterable[int]) -> int:
    """Send the back-in-stock e-mail of every waiting alert of these products whose product or
    size is back; returns how many were sent. Each alert is sent once (module docstring)."""
    return sum(1 for alert_id in stock_alerts_due(product_ids) if _stock_alert_send(alert_id))


def _stock_alert_send(alert_id: int) -> bool:
    with transaction.atomic():
        alert = (
            StockAlert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("product", "variant")
            .filter(pk=alert_id, status=StockAlert.Status.WAITING)
            .first()
        )
        if alert is None or not stock_alert_is_due(alert):
            return False
        _message(alert).send()
        alert.status = StockAlert.Status.NOTIFIED
        alert.notified_at = timezone.now()
        alert.save(update_fields=["status", "notified_at"])
    logger.info("back-in-stock e-mail sent for alert %s (product %s)", alert.pk, alert.product_id)
    return True


def unsubscribe_url(alert: StockAlert) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("stockalerts:unsubscribe", args=[unsubscribe_token(alert.pk)])


def _absolute(site: str, url: str) -> str:
    return site + url if url.startswith("/") else url


def _message(alert: StockAlert) -> EmailMultiAlternatives:
    site = settings.SITE_URL.rstrip("/")
    unsubscribe = unsubscribe_url(alert)
    context = {
        "alert": alert,
        "product": alert.product,
        "size": alert.variant.size if alert.variant else "",
        "product_url": site + alert.product.get_absolute_url(),
        "image_url": site + alert.product.card_image_url
        if alert.product.card_image_url.startswith("/")
        else alert.product.card_image_url,
        "unsubscribe_url": unsubscribe,
    }
    message = EmailMultiAlternatives(
        subject=f"Back in stock: {alert.product.name}",
        body=render_to_string("stockalerts/email/back_in_stock.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[alert.email],
        # RFC 8058: mail programs offer "unsubscribe" themselves, with a one-click POST.
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach_alternative(render_to_string("stockalerts/email/back_in_stock.html", context), "text/html")
    return message
