"""The "Notify me" form on the product page and alone, its errors, its rate limit, and the
e-mail's unsubscribe link (GET asks, POST does; the one-click POST of mail programs)."""

from __future__ import annotations

import random

import pytest
from django.test import Client
from django.urls import reverse

from stockalerts.models import StockAlert
from stockalerts.services import stock_alert_subscribe
from stockalerts.tokens import unsubscribe_token
from tests.support.shopping import priced_product, variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out(make_product):
    return priced_product(make_product, sizes={"S": 0, "M": 0}, name="Blue Sold Out Jeans")


def test_product_page_offers_notify_me_only_for_sold_out_sizes(client, make_product, sold_out) -> None:
    page = client.get(sold_out.get_absolute_url()).content.decode()
    assert "Notify me when it&#x27;s back" in page or "Notify me when it's back" in page
    assert 'name="size"' in page and ">Any size<" in page
    partly = priced_product(make_product, sizes={"S": 0, "M": 3})
    page = client.get(partly.get_absolute_url()).content.decode()
    assert "Size sold out? Get one e-mail when it" in page
    assert ">Any size<" not in page
    assert f'value="{variant(partly, "S").pk}"' in page and f'<option value="{variant(partly, "M").pk}"' not in page
    in_stock = priced_product(make_product, sizes={"M": 3})
    assert "notify-form" not in client.get(in_stock.get_absolute_url()).content.decode()


def test_subscribing_from_the_product_page_comes_back_with_a_message(client, sold_out) -> None:
    url = reverse("stockalerts:notify", args=[sold_out.pk])
    data = {"email": "asha@example.com", "size": str(variant(sold_out, "M").pk), "next": sold_out.get_absolute_url()}
    response = client.post(url, data, follow=True)
    assert response.redirect_chain[-1][0] == sold_out.get_absolute_url()
    page = response.content.decode()
    assert "We will e-mail asha@example.com once when Blue Sold Out Jeans in size M is back." in page
    assert "You are on the list: we will e-mail you once when it is back." in page  # instead of the form
    assert 'name="email"' not in page.split('class="product-info"', 1)[1]
    again = client.post(url, data, follow=True).content.decode()
    assert "You are already on the list" in again
    alert = StockAlert.objects.get()
    assert (alert.email, alert.variant_id, alert.status) == ("asha@example.com", variant(sold_out, "M").pk, "waiting")


def test_bad_input_gets_a_message_and_keeps_what_was_typed(client, make_product, sold_out) -> None:
    url = reverse("stockalerts:notify", args=[sold_out.pk])
    response = client.post(url, {"email": "asha@", "next": "https://evil.example/"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please check your e-mail address." in page and 'value="asha@"' in page
    assert "https://evil.example/" not in page
    other = priced_product(make_product, sizes={"S": 0})
    response = client.post(url, {"email": "a@example.com", "size": str(variant(other, "S").pk)})
    assert response.status_code == 400 and "Please choose one of the sold-out sizes." in response.content.decode()
    in_stock = priced_product(make_product, sizes={"M": 3})
    response = client.post(reverse("stockalerts:notify", args=[in_stock.pk]), {"email": "a@example.com"})
    assert response.status_code == 409 and "in stock now" in response.content.decode()
    assert client.post(reverse("stockalerts:notify", args=[999999]), {"email": "a@example.com"}).status_code == 404
    assert client.get(url).status_code == 200  # the form alone (no JavaScript needed anywhere)
    assert not StockAlert.objects.exists()


def test_the_form_needs_csrf(sold_out) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("stockalerts:notify", args=[sold_out.pk]), {"email": "a@example.com"})
    assert response.status_code == 403
    assert not StockAlert.objects.exists()


def test_the_form_is_rate_limited_per_client(settings, sold_out) -> None:
    settings.RATELIMIT_ENABLED = True
    settings.RATELIMITS = {**settings.RATELIMITS, "stock_alerts": "2/m"}
    shopper = Client(REMOTE_ADDR=f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}")
    url = reverse("stockalerts:notify", args=[sold_out.pk])
    codes = [shopper.post(url, {"email": f"s{i}@example.com"}).status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert StockAlert.objects.count() == 2


def test_unsubscribe_asks_then_stops_the_alert(client, sold_out) -> None:
    alert = stock_alert_subscribe(product=sold_out, email="a@example.com").alert
    url = reverse("stockalerts:unsubscribe", args=[unsubscribe_token(alert.pk)])
    page = client.get(url).content.decode()
    assert "Stop this back-in-stock e-mail?" in page
    alert.refresh_from_db()
    assert alert.status == "waiting"  # a mail scanner opening the link changes nothing
    page = client.post(url).content.decode()
    assert "We will not write to a@example.com about Blue Sold Out Jeans." in page
    alert.refresh_from_db()
    assert alert.status == "unsubscribed" and alert.unsubscribed_at is not None


def test_one_click_unsubscribe_needs_no_csrf_and_bad_links_are_404(sold_out) -> None:
    alert = stock_alert_subscribe(product=sold_out, email="a@example.com").alert
    mail_program = Client(enforce_csrf_checks=True)
    url = reverse("stockalerts:unsubscribe", args=[unsubscribe_token(alert.pk)])
    assert mail_program.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    alert.refresh_from_db()
    assert alert.status == "unsubscribed"
    bad = reverse("stockalerts:unsubscribe", args=["1:forged"])
    assert mail_program.get(bad).status_code == 404
    assert mail_program.post(bad).status_code == 404


def test_staff_see_alerts_per_product(admin_client, make_product, sold_out) -> None:
    stock_alert_subscribe(product=sold_out, email="a@example.com")
    stock_alert_subscribe(product=sold_out, email="b@example.com", variant=variant(sold_out, "S"))
    quiet = priced_product(make_product, sizes={"S": 0}, name="Nobody Waits")
    page = admin_client.get(reverse("admin:stockalerts_productalerts_changelist")).content.decode()
    assert "Blue Sold Out Jeans" in page and "Nobody Waits" not in page
    assert '<td class="field-waiting">2</td>' in page
    alerts = admin_client.get(
        reverse("admin:stockalerts_stockalert_changelist") + f"?product__id__exact={sold_out.pk}&status__exact=waiting"
    ).content.decode()
    assert "a@example.com" in alerts and "b@example.com" in alerts
    assert quiet.pk
