"""The dashboard: staff only (anyone else gets the admin login), its figures per day, its CSV
exports and its empty state."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from insights.models import EventKind, SearchEvent
from tests.support.shopping import priced_product

pytestmark = pytest.mark.django_db

PAGES = ["/admin/insights/", "/admin/insights/duplicates/", "/admin/insights/export/searches.csv"]


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_get_the_admin_login(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", PAGES)
def test_shoppers_signed_in_without_staff_rights_get_the_admin_login(url: str) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("shopper", "x@example.com", "pw"))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_with_nothing_recorded_the_page_says_so_and_draws_no_chart(staff_client) -> None:
    body = staff_client.get(reverse("insights:dashboard")).content.decode()
    assert "Nothing recorded in this period yet" in body
    assert "<canvas" not in body and "chart.umd" not in body


@pytest.fixture
def recorded(make_product):
    """Two days of events: searches, clicks, a bag add and an order."""
    product = priced_product(make_product, name="Red Kurta", price="1200.00")
    today = timezone.now().replace(hour=12)
    yesterday = today - timedelta(days=1)
    rows = [
        *(SearchEvent(kind=EventKind.TEXT, at=yesterday, text="kurta", results=3) for _ in range(3)),
        SearchEvent(kind=EventKind.TEXT, at=yesterday, text="Tuxedo", results=0),
        SearchEvent(kind=EventKind.TEXT, at=today, text="tuxedo", results=0),
        *(SearchEvent(kind=EventKind.SIMILAR, at=today, product=product, results=5) for _ in range(4)),
        SearchEvent(kind=EventKind.PHOTO, at=today, results=5, nothing_close=True),
        *(SearchEvent(kind=EventKind.CLICK, at=today, via="similar", product=product) for _ in range(2)),
        SearchEvent(kind=EventKind.BAG, at=today, via="similar", product=product, quantity=1),
        SearchEvent(kind=EventKind.ORDER, at=today, via="similar", revenue=Decimal("1200.00")),
    ]
    SearchEvent.objects.bulk_create(rows)
    return product


def test_staff_see_the_figures_per_day_with_charts(recorded, staff_client) -> None:
    response = staff_client.get(reverse("insights:dashboard"), {"days": 7})
    assert response.status_code == 200
    days = {d.day: d for d in response.context["days"]}
    assert len(days) == 7
    today = days[timezone.localdate()]
    yesterday = days[timezone.localdate() - timedelta(days=1)]
    assert (yesterday.text, yesterday.text_empty, yesterday.similar) == (4, 1, 0)
    assert (today.similar, today.photo, today.photo_nothing_close, today.clicks, today.bag_adds) == (4, 1, 1, 2, 1)
    assert today.click_through == pytest.approx(2 / 5)
    assert (today.orders, today.revenue) == (1, Decimal("1200.00"))
    body = response.content.decode()
    for chart in ("chart-searches", "chart-conversions", "chart-orders"):
        assert f'id="{chart}"' in body
    assert 'id="insights-data"' in body and "vendor/chartjs/chart.umd.min.js" in body
    assert "Red Kurta" in body  # the product most reached through visual search
    assert response.context["empty_searches"] == [("tuxedo", 2)]


def test_each_table_downloads_as_csv(recorded, staff_client) -> None:
    expected = {
        "searches": ["day", "text searches"],
        "conversions": ["day", "visual searches"],
        "orders": ["day", "orders after visual search"],
        "products": ["product id", "product"],
        "empty-searches": ["search", "times"],
    }
    for table, header in expected.items():
        response = staff_client.get(reverse("insights:export", args=[table]), {"days": 7})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0][: len(header)] == header
    orders = list(
        csv.reader(io.StringIO(staff_client.get("/admin/insights/export/orders.csv?days=2").content.decode()))
    )
    assert orders[-1][1:] == ["1", "1200.00"]
    assert staff_client.get("/admin/insights/export/nothing.csv").status_code == 404


def test_a_nonsense_range_falls_back_to_a_sensible_one(staff_client) -> None:
    for params in (
        {"days": "abc"},
        {"start": "2024-13-45"},
        {"days": "100000"},
        {"start": "2026-02-01", "end": "2026-01-01"},
    ):
        response = staff_client.get(reverse("insights:dashboard"), params)
        assert response.status_code == 200
        assert 1 <= len(response.context["days"]) <= 366
