"""Keep and come back, in a real browser at 390 px (phone) and 1280 px (desktop):

* photograph a sold-out product → it is shown first, "Sold out", with "Notify me", the in-stock
  lookalikes under it → subscribe → the stand-alone "Notify me" page → staff see the shopper
  waiting in "Alerts by product" → staff restock (the stock service path every restock
  announces through) → the real worker sends exactly one e-mail (a file outbox);
* the wishlist as a guest (the heart in place, the header's count) → log in → still there.

axe-core on every new page (no serious or critical violation), 44-px tap targets on the phone,
screenshots of each step in artifacts/screenshots/."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import WORKER_KEY
from tests.e2e.test_storefront_journeys import DESKTOP, PHONE, SMALL_TARGETS_JS, assert_accessible, no_horizontal_scroll
from tests.support.catalogue import catalogue_rows
from tests.support.servers import Worker, database_url, start_worker

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "e2e-Secret-pass-42"
NEW_TARGETS = (
    ".exact-match button, .exact-match select, .exact-match input, .wishlist-heart, .nav-wishlist, .notify-form button"
)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def e2e_worker(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    real_weights: None,
    e2e_broker: str,
    outbox: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """The journeys' worker (tests/e2e/conftest.py), its mail written to ``outbox``."""
    if connection.vendor != "postgresql":
        pytest.fail("The browser journeys need PostgreSQL shared with a Celery worker.", pytrace=False)
    worker = start_worker(
        database_url(connection.settings_dict),
        e2e_broker,
        queues="celery,query,shop",  # shop: the back-in-stock e-mails (CELERY_TASK_ROUTES)
        log_dir=tmp_path_factory.mktemp("e2e-worker"),
        EMAIL_URL=f"filemail:///{outbox}",
    )
    request.config.stash[WORKER_KEY] = worker
    try:
        worker.wait_ready(timeout=300)
        yield worker
    finally:
        worker.stop(timeout=20)
        worker.kill()
        del request.config.stash[WORKER_KEY]


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def shopper(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # bypass_csp: axe-core is injected as an inline script (the site's CSP refuses those).
    context = browser.new_context(**request.param, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.set_default_navigation_timeout(90_000)
    try:
        yield page
    finally:
        context.close()


def phone_photo(product: Any) -> dict[str, Any]:
    """The product's catalogue picture as a phone camera gives it back: larger, cropped a little,
    re-encoded."""
    with product.image.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read())).convert("RGB")
    w, h = image.size
    image = image.crop((2, 3, w - 2, h - 2)).resize((w * 4, h * 4), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def sent(outbox: Path) -> list:
    messages = []
    for path in sorted(outbox.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk.strip()))
    return messages


def tap_targets_ok(page: Page) -> None:
    small = page.evaluate(SMALL_TARGETS_JS, NEW_TARGETS)
    assert not small, f"{page.url}: tap targets under 44 px: {small}"


def test_a_sold_out_photo_match_notifies_once_when_restocked(
    shopper: Page,
    site,
    import_catalogue,
    screenshot,
    outbox: Path,
    django_user_model: Any,
    request: pytest.FixtureRequest,
) -> None:
    from shop.models import ProductVariant
    from shop.services import catalogue_changes_announce

    suffix = "-" + request.node.callspec.id
    phone = "phone" in suffix
    page = shopper
    products = import_catalogue(catalogue_rows(12))
    wanted = products[3]
    ProductVariant.objects.filter(product=wanted).update(stock=0)
    catalogue_changes_announce([wanted.pk])
    time.sleep(1.5)  # the live server's index refreshes every 0.5 s
    before = len(sent(outbox))

    page.goto(site.url + "/search/photo/")
    page.locator("form.upload-form input[type=file]:not([capture])").set_input_files(phone_photo(wanted))
    page.get_by_role("button", name="Find similar products").click()
    exact = page.locator(".exact-match")
    expect(exact.get_by_role("heading", name="We found it: Sold out")).to_be_visible(timeout=90_000)
    expect(exact.locator(".card-title")).to_have_attribute("href", f"/products/{wanted.pk}/")
    expect(exact.get_by_text("Notify me when it's back")).to_be_visible()
    lookalikes = page.locator(".grid-similar .card")
    expect(page.get_by_role("heading", name="More that look like it, in stock")).to_be_visible()
    assert lookalikes.count() >= 3
    assert f"/products/{wanted.pk}/" not in [
        lookalikes.nth(i).locator(".card-title").get_attribute("href") for i in range(lookalikes.count())
    ]
    assert exact.bounding_box()["y"] < page.locator(".grid-similar").bounding_box()["y"]  # the match first
    if phone:
        no_horizontal_scroll(page)
        tap_targets_ok(page)
    screenshot(page, f"{suffix}-exact-sold-out")
    assert_accessible(page)

    # Subscribe: back on the same search (without the photo), with a message.
    exact.get_by_label("Your e-mail").fill("asha@example.com")
    exact.get_by_role("button", name="Notify me").click()
    expect(page.get_by_role("status").filter(has_text="We will e-mail asha@example.com once when")).to_be_visible()
    expect(page.locator(".exact-match .notify-done")).to_have_text(re.compile("You are on the list"))
    screenshot(page, f"{suffix}-subscribed")

    # The stand-alone "Notify me" page (the product page's sold-out sizes link to it).
    page.goto(f"{site.url}/notify/{wanted.pk}/")
    expect(page.get_by_role("heading", name="Notify me when it's back")).to_be_visible()
    expect(page.locator(".notify-product")).to_contain_text(wanted.name)
    if phone:
        no_horizontal_scroll(page)
        tap_targets_ok(page)
    screenshot(page, f"{suffix}-notify-page")
    assert_accessible(page)

    # Staff see who waits for what: the product, one shopper waiting, none notified yet.
    staff = django_user_model.objects.create_superuser(f"staff{suffix}", "staff@example.com", PASSWORD)
    page.goto(site.url + "/admin/login/?next=/admin/stockalerts/productalerts/")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    row = page.locator("#result_list tbody tr").filter(has_text=wanted.name)
    expect(row).to_have_count(1)
    expect(row.locator("td.field-waiting")).to_have_text("1")
    expect(row.locator("td.field-notified")).to_have_text("0")
    screenshot(page, f"{suffix}-staff-alerts-by-product")

    # Staff restock; the worker sends one e-mail.
    ProductVariant.objects.filter(product=wanted).update(stock=4)
    catalogue_changes_announce([wanted.pk])
    deadline = time.monotonic() + 60
    while len(sent(outbox)) == before and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)  # anything more would arrive now
    mails = [m for m in sent(outbox)[before:] if m["To"] == "asha@example.com"]
    assert len(mails) == 1, site.worker.log()[-3000:]
    assert mails[0]["Subject"] == f"Back in stock: {wanted.name}"

    # The unsubscribe link from the e-mail works in the browser.
    unsubscribe = "".join(mails[0]["List-Unsubscribe"].split()).strip("<>")
    page.goto(site.url + urlsplit(unsubscribe).path)
    expect(page.get_by_role("heading", name="Stop this back-in-stock e-mail?")).to_be_visible()
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-unsubscribe")
    assert_accessible(page)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You will not get this e-mail")).to_be_visible()


def test_a_guest_wishlist_survives_logging_in(
    shopper: Page, site, import_catalogue, screenshot, django_user_model, request: pytest.FixtureRequest
) -> None:
    suffix = "-" + request.node.callspec.id
    phone = "phone" in suffix
    page = shopper
    import_catalogue(catalogue_rows(8), embed=False)
    django_user_model.objects.create_user("meera", "meera@example.com", PASSWORD)

    page.goto(site.url + "/catalogue/")
    card = page.locator(".card").first
    name = card.locator(".card-title").inner_text()
    heart = card.get_by_role("button", name=f"Save {name} to your wishlist")
    expect(heart).to_have_attribute("aria-pressed", "false")
    if phone:
        tap_targets_ok(page)
    heart.click()
    expect(heart).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-wishlist-count]")).to_have_text("1")
    expect(page.locator(".messages")).to_have_count(0)  # in place: no page load, no message
    screenshot(page, f"{suffix}-hearted")

    if phone:  # the header's links beside the bag live in the menu on a phone
        page.locator(".menu-button").click()
    page.locator(".nav-wishlist").click()
    expect(page.get_by_role("heading", name="Your wishlist")).to_be_visible()
    expect(page.locator(".card-title")).to_have_text([name])
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-wishlist-guest")
    assert_accessible(page)

    page.locator(".wishlist-page").get_by_role("link", name="log in").click()
    page.get_by_label("Username").fill("meera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(site.url + "/wishlist/")
    expect(page.locator(".card-title")).to_have_text([name])
    expect(page.locator("[data-wishlist-count]")).to_have_text("1")
    screenshot(page, f"{suffix}-wishlist-customer")

    # Removing it from the list page (in place), then the empty state.
    page.locator(".card").first.get_by_role("button", name=f"Save {name} to your wishlist").click()
    expect(page.locator("[data-wishlist-count]")).to_have_text("0")
    page.reload()
    expect(page.get_by_role("heading", name="Nothing saved yet")).to_be_visible()
    screenshot(page, f"{suffix}-wishlist-empty")
    assert_accessible(page)
