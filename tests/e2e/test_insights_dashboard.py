"""Staff open the insights dashboard in Chromium on a catalogue with a few hundred recorded
searches: the charts draw, each with its table and CSV link, the "nothing close" themes show
their previews, and the page fits a desktop and a phone. Screenshots in artifacts/screenshots/.

No worker: the products carry stored vectors and the events are written as the flush writes them."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from insights.models import EventKind, SearchEvent, UnmatchedPhoto
from insights.services import preview_shrink
from tests.support.catalogue import rows_and_photos, stored_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "e2e-Insights-pass-42"
SEARCHED = ["kurta", "running shoes", "handbag", "jeans", "watch", "saree", "tuxedo", "raincoat", "ski jacket"]


def _record_two_weeks(products: list) -> int:
    """About 400 events over 14 days, as shoppers would leave them; the count."""
    rng = np.random.default_rng(21)
    from django.utils import timezone

    now = timezone.now()
    rows: list[SearchEvent] = []
    for day in range(14):
        at = now - timedelta(days=13 - day, hours=int(rng.integers(0, 6)))
        busy = 1.0 + day / 10
        for _ in range(int(8 * busy)):
            text = SEARCHED[int(rng.integers(0, len(SEARCHED)))]
            rows.append(SearchEvent(kind=EventKind.TEXT, at=at, text=text, results=0 if text in SEARCHED[6:] else 12))
        for _ in range(int(10 * busy)):
            rows.append(
                SearchEvent(kind=EventKind.SIMILAR, at=at, product=products[int(rng.integers(0, 40))], results=5)
            )
        for _ in range(int(4 * busy)):
            rows.append(SearchEvent(kind=EventKind.PHOTO, at=at, results=5, nothing_close=bool(rng.random() < 0.3)))
        for _ in range(int(5 * busy)):
            product = products[int(rng.integers(0, 12))]
            rows.append(SearchEvent(kind=EventKind.CLICK, at=at, via="similar", product=product))
        for _ in range(int(2 * busy)):
            rows.append(
                SearchEvent(
                    kind=EventKind.BAG, at=at, via="photo", product=products[int(rng.integers(0, 12))], quantity=1
                )
            )
        if day % 2 == 0:
            rows.append(SearchEvent(kind=EventKind.ORDER, at=at, via="similar", revenue=Decimal(str(799 + 150 * day))))
    SearchEvent.objects.bulk_create(rows)
    # Photos that found nothing close: three looks, previews from real catalogue photos.
    photos = [data for _row, data in rows_and_photos(40)[28:40]]
    centres = rng.standard_normal((3, 2048))
    for i, data in enumerate(photos):
        vector = centres[i % 3] + 0.4 * rng.standard_normal(2048)
        preview = preview_shrink("data:image/jpeg;base64," + base64.b64encode(data).decode())
        UnmatchedPhoto.objects.create(
            at=now - timedelta(days=i % 10), vector=vector.astype("<f4").tobytes(), preview=preview
        )
    return len(rows)


def _log_in(page: Page, url: str, django_user_model) -> None:
    django_user_model.objects.create_superuser("e2e-owner", "owner@example.com", PASSWORD)
    page.goto(f"{url}/admin/login/?next=/admin/insights/")
    page.get_by_label("Username").fill("e2e-owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_staff_see_the_dashboard_with_charts_on_a_desktop_and_a_phone(
    page: Page, live_server, settings, django_user_model, screenshot
) -> None:
    settings.ROOT_URLCONF = "tests.e2e.conftest"  # serves the product photos
    products = stored_catalogue(40)
    assert _record_two_weeks(products) > 300
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    _log_in(page, live_server.url, django_user_model)
    expect(page.get_by_role("heading", name="Searches per day")).to_be_visible()
    page.get_by_role("link", name="Last 30 days").click()
    for chart in ("chart-searches", "chart-conversions", "chart-orders"):
        canvas = page.locator(f"#{chart}")
        expect(canvas).to_be_visible()
        # Chart.js drew it: the canvas was sized to its box and has pixels on it.
        assert page.evaluate(
            f"() => {{ const c = document.getElementById('{chart}'); return c.width > 200 && "
            "c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0); }"
        )
    expect(page.get_by_text("Theme 1")).to_be_visible()
    assert page.locator(".insights-previews img").count() >= 6
    expect(page.get_by_role("cell", name="tuxedo")).to_be_visible()
    assert page.get_by_role("link", name="Download CSV").count() == 5
    assert not errors, errors  # no CSP refusal, no script error
    screenshot(page, "-desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    widest = page.evaluate("() => document.documentElement.scrollWidth")
    assert widest <= 390 + 1, f"the page is {widest} px wide on a 390 px phone"
    screenshot(page, "-phone")

    # A product listed twice with the same photo (as the catalogue has hundreds of).
    from shop.models import Product

    original = products[0]
    Product.objects.filter(pk=original.pk).update(image_checksum="e2e-same-photo")
    twin = Product.objects.get(pk=original.pk)
    twin.pk = None
    twin.name = f"{original.name} (listed again)"
    twin.external_id = "e2e-twin"
    twin.save()
    page.goto(f"{live_server.url}/admin/insights/duplicates/")
    expect(page.get_by_role("heading", name="Duplicate products", exact=True)).to_be_visible()
    expect(page.get_by_text("Identical picture", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=twin.name)).to_be_visible()
    screenshot(page, "-duplicates-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    screenshot(page, "-duplicates")
