"""stockalerts.services on PostgreSQL: subscribe (what is refused), the one e-mail when stock
returns through each way stock changes (admin sizes, an order cancelled), unsubscribe."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from core.errors import Conflict, InvalidInput, NotFound
from shop.models import ProductVariant
from shop.services import catalogue_changes_announce
from stockalerts.models import StockAlert
from stockalerts.services import stock_alert_subscribe, stock_alert_unsubscribe, stock_alerts_send
from stockalerts.tokens import unsubscribe_token
from tests.support.shopping import priced_product, variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out(make_product):
    return priced_product(make_product, sizes={"S": 0, "M": 0, "L": 0}, name="Red Sold Out Tee")


def _restock(product, size: str, stock: int = 3) -> None:
    """Stock changed the way every path announces it (catalogue_changes_announce), committed."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        ProductVariant.objects.filter(product=product, size=size).update(stock=stock)
        catalogue_changes_announce([product.pk])


def test_subscribe_keeps_one_waiting_alert_per_address(sold_out) -> None:
    first = stock_alert_subscribe(product=sold_out, email=" Asha@Example.com ")
    again = stock_alert_subscribe(product=sold_out, email="asha@example.com")
    assert first.created and not again.created
    assert again.alert.pk == first.alert.pk
    assert first.alert.email == "asha@example.com"
    assert StockAlert.objects.count() == 1


def test_subscribe_refuses_what_is_in_stock_and_foreign_sizes(make_product, sold_out) -> None:
    partly = priced_product(make_product, sizes={"S": 0, "M": 4})
    with pytest.raises(Conflict, match="in stock now"):
        stock_alert_subscribe(product=partly, email="a@example.com")
    with pytest.raises(Conflict, match="Size M is in stock"):
        stock_alert_subscribe(product=partly, email="a@example.com", variant=variant(partly, "M"))
    with pytest.raises(InvalidInput, match="this product's sizes"):
        stock_alert_subscribe(product=sold_out, email="a@example.com", variant=variant(partly, "S"))
    assert stock_alert_subscribe(product=partly, email="a@example.com", variant=variant(partly, "S")).created
    sold_out.is_active = False
    sold_out.save()
    with pytest.raises(NotFound):
        stock_alert_subscribe(product=sold_out, email="a@example.com")


def test_restocking_in_the_admin_sends_one_mail_with_an_unsubscribe_link(
    admin_client, sold_out, settings, django_capture_on_commit_callbacks
) -> None:
    settings.SITE_URL = "https://shop.example"
    stock_alert_subscribe(product=sold_out, email="asha@example.com")
    stock_alert_subscribe(product=sold_out, email="ravi@example.com", variant=variant(sold_out, "L"))
    data = {
        "name": sold_out.name,
        "gender": sold_out.gender,
        "master_category": sold_out.master_category,
        "sub_category": sold_out.sub_category,
        "article_type": sold_out.article_type,
        "base_colour": sold_out.base_colour,
        "price": "999.00",
        "is_active": "on",
        "variants-TOTAL_FORMS": "3",
        "variants-INITIAL_FORMS": "3",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    for i, v in enumerate(sold_out.variants.order_by("sort_order")):
        data |= {
            f"variants-{i}-id": str(v.pk),
            f"variants-{i}-product": str(sold_out.pk),
            f"variants-{i}-size": v.size,
            f"variants-{i}-sort_order": str(v.sort_order),
            f"variants-{i}-stock": "2" if v.size == "M" else "0",
        }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:shop_product_change", args=[sold_out.pk]), data)
    assert response.status_code == 302, response.content[:2000]
    # M came back: the any-size alert is sent, the size-L one keeps waiting.
    assert [m.to for m in mail.outbox] == [["asha@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "Back in stock: Red Sold Out Tee"
    assert f"https://shop.example/products/{sold_out.pk}" in message.body or sold_out.get_absolute_url() in message.body
    link = re.search(r"https://shop\.example(/notify/unsubscribe/[^/\s]+/)", message.body)
    assert link is not None
    assert message.extra_headers["List-Unsubscribe"] == f"<{link.group(0)}>"
    html = message.alternatives[0][0]
    assert "Stop this e-mail" in html and link.group(1) in html
    assert StockAlert.objects.get(email="asha@example.com").status == StockAlert.Status.NOTIFIED
    assert StockAlert.objects.get(email="ravi@example.com").status == StockAlert.Status.WAITING

    _restock(sold_out, "M", 5)  # more stock of the same size: no second mail
    assert len(mail.outbox) == 1
    _restock(sold_out, "L")
    assert [m.to for m in mail.outbox][1:] == [["ravi@example.com"]]


def test_sending_twice_sends_once_and_inactive_products_wait(sold_out, make_product) -> None:
    stock_alert_subscribe(product=sold_out, email="a@example.com")
    ProductVariant.objects.filter(product=sold_out, size="S").update(stock=1)
    assert stock_alerts_send([sold_out.pk]) == 1
    assert stock_alerts_send([sold_out.pk]) == 0
    assert len(mail.outbox) == 1

    hidden = priced_product(make_product, sizes={"S": 0})
    stock_alert_subscribe(product=hidden, email="b@example.com")
    hidden.is_active = False
    hidden.save()
    ProductVariant.objects.filter(product=hidden).update(stock=2)
    assert stock_alerts_send([hidden.pk]) == 0


def test_unsubscribe_stops_the_mail_and_bad_tokens_are_refused(sold_out) -> None:
    alert = stock_alert_subscribe(product=sold_out, email="a@example.com").alert
    assert stock_alert_unsubscribe(unsubscribe_token(alert.pk)).status == StockAlert.Status.UNSUBSCRIBED
    assert stock_alert_unsubscribe(unsubscribe_token(alert.pk)).status == StockAlert.Status.UNSUBSCRIBED
    _restock(sold_out, "S")
    assert mail.outbox == []
    with pytest.raises(NotFound):
        stock_alert_unsubscribe(unsubscribe_token(alert.pk) + "x")
    with pytest.raises(NotFound):
        stock_alert_unsubscribe("not-a-token")
    # After unsubscribing, the same address may ask again.
    assert stock_alert_subscribe(product=sold_out, email="a@example.com", variant=variant(sold_out, "M")).created


def test_one_address_cannot_fill_the_table(sold_out, make_product, settings) -> None:
    settings.STOCKALERTS_MAX_WAITING_PER_EMAIL = 2
    products = [priced_product(make_product, sizes={"S": 0}) for _ in range(3)]
    for p in products[:2]:
        stock_alert_subscribe(product=p, email="flood@example.com")
    with pytest.raises(InvalidInput, match="many products"):
        stock_alert_subscribe(product=products[2], email="flood@example.com")
