"""Finishing the journey, in a real browser on a 390-px phone and a 1280-px desktop:

* checkout shows the order summary (lines, delivery, total) beside every step: a collapsed
  panel above the form on a phone, an open sidebar on a desktop; the development dummy
  payment is preselected "Confirmed", so Pay leads to the confirmation page;
* the guest finds the order again by number and e-mail (the footer's "Find your order"), and
  reads the returns policy;
* the phone page: every control on the photo search, find-similar, catalogue, product and
  checkout pages is at least 44 × 44 px (tests/support/tap_targets.py), photo search offers
  "Take a photo" (camera) and "Choose from gallery", and find similar's results are on the
  first screen with the refinements in a drawer.

axe-core finds no serious or critical violation on the new pages. Screenshots of each page at
both widths go to artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_storefront_journeys import DESKTOP, PHONE, assert_accessible, no_horizontal_scroll
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.tap_targets import small_tap_targets

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def shop_url(live_server: Any, settings: Any, tmp_path: Path, transactional_db: None) -> str:
    """The live server (with media) on 40 real products with demo prices and stock, no
    embeddings (checkout needs none)."""
    settings.ROOT_URLCONF = "tests.e2e.conftest"
    settings.DEBUG = False
    folder = write_catalogue(tmp_path / "catalogue", catalogue_rows(40))
    options = ["--no-embeddings", "--demo-prices", "--demo-stock"]
    call_command("import_catalogue", str(folder), *options, verbosity=0, stdout=io.StringIO())
    return live_server.url


@pytest.fixture
def context_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # bypass_csp: axe-core is injected as an inline script (the site's CSP refuses those).
    context = browser.new_context(**request.param, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.set_default_navigation_timeout(90_000)
    try:
        yield page
    finally:
        context.close()


def assert_tap_targets(page: Page) -> None:
    small = small_tap_targets(page)
    assert not small, f"{page.url}: controls under 44 × 44 px: {small}"


def assert_summary(page: Page, *, phone: bool, name: str, total: str) -> None:
    """The order summary is there: folded with its total on a phone (opening it shows the
    lines), open beside the form on a desktop."""
    summary = page.locator(".checkout-summary")
    expect(summary).to_be_visible()
    expect(summary.locator(".checkout-summary-total")).to_have_text(total)
    if phone:
        expect(summary.locator(".summary-line-name")).to_be_hidden()
        box = summary.locator("summary").bounding_box()
        main = page.locator(".checkout-main h1").bounding_box()
        assert box["y"] < main["y"], "on a phone the summary comes before the form"
        summary.locator("summary").click()
        expect(summary.locator(".summary-line-name").first).to_be_visible()
        expect(summary.locator(".summary-total")).to_have_text(total)
        summary.locator("summary").click()  # folded again: the page as the shopper found it
    else:
        expect(summary.locator(".summary-line-name").first).to_have_text(name)
        expect(summary.locator(".summary-total")).to_have_text(total)
        side = summary.bounding_box()
        main = page.locator(".checkout-main").bounding_box()
        assert side["x"] > main["x"] + main["width"] - 1, "on a desktop the summary is a sidebar"
        expect(summary.locator(".summary-line img").first).to_be_visible()


@pytest.mark.parametrize("context_page", [PHONE, DESKTOP], indirect=True, ids=["phone", "desktop"])
def test_checkout_summary_lookup_and_returns(context_page: Page, shop_url: str, screenshot, settings) -> None:
    from shop.models import Product

    page = context_page
    phone = page.viewport_size["width"] < 500
    suffix = "-phone" if phone else "-desktop"
    product = Product.objects.filter(variants__stock__gt=0, price__isnull=False).distinct().order_by("pk").first()

    # The product page's buy box says returns are free.
    page.goto(shop_url + product.get_absolute_url())
    expect(page.locator(".buy-returns")).to_contain_text("Free returns within 30 days")
    if phone:
        assert_tap_targets(page)
    screenshot(page, f"{suffix}-product")
    page.locator(".size-option:not(.is-sold-out)").first.click()
    page.locator(".buy-form").get_by_role("button", name="Add to bag").click()
    expect(page.locator(".bag-badge")).to_have_text("1")
    page.goto(shop_url + "/bag/")
    total = page.locator(".bag-subtotal").inner_text()

    # Details: the summary (delivery not chosen yet: the total is the subtotal).
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("heading", name="Where should we send it?")).to_be_visible()
    assert_summary(page, phone=phone, name=product.name, total=total)
    expect(page.locator(".summary-shipping")).to_have_text("Chosen at the next step")
    no_horizontal_scroll(page)
    if phone:
        assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, f"{suffix}-details")
    page.get_by_label("Email").fill("guest@example.com")
    page.get_by_label("Full name").fill("Guest Shopper")
    page.get_by_label("Address", exact=True).fill("12 MG Road")
    page.get_by_label("City").fill("Bengaluru")
    page.get_by_label("Postcode / PIN").fill("560001")
    page.get_by_role("button", name="Continue to delivery").click()

    # Delivery, then review: the summary follows the chosen delivery.
    expect(page.get_by_role("heading", name="Delivery")).to_be_visible()
    assert_summary(page, phone=phone, name=product.name, total=total)
    if phone:
        assert_tap_targets(page)
    screenshot(page, f"{suffix}-delivery")
    page.get_by_label(re.compile("Express delivery")).check()
    page.get_by_role("button", name="Review your order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    total = page.locator(".review-total").inner_text()
    assert_summary(page, phone=phone, name=product.name, total=total)
    expect(page.locator(".checkout-summary .totals")).to_contain_text("Express delivery")
    if phone:
        assert_tap_targets(page)
    screenshot(page, f"{suffix}-review")
    page.get_by_role("button", name=re.compile("Place order and pay")).click()

    # Payment: the summary of the order placed; the dummy form is preselected "Confirmed".
    expect(page.get_by_role("heading", name="Payment")).to_be_visible()
    assert_summary(page, phone=phone, name=product.name, total=total)
    expect(page.get_by_label("Status", exact=True)).to_have_value("confirmed")
    if phone:
        assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, f"{suffix}-payment")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = page.locator(".order-number").inner_text()
    expect(page.locator(".confirmation")).to_contain_text("Free returns within 30 days")
    screenshot(page, f"{suffix}-thanks")

    # A new visit: the footer's "Find your order"; a wrong e-mail, then the right one.
    page.context.clear_cookies()
    page.goto(shop_url + "/")
    page.locator(".site-footer").get_by_role("link", name="Find your order").click()
    expect(page.get_by_role("heading", name="Find your order")).to_be_visible()
    page.get_by_label("Order number").fill(number)
    page.get_by_label("Email").fill("someone-else@example.com")
    page.get_by_role("button", name="Find my order").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("We could not find an order with that number"))
    if phone:
        assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, f"{suffix}-lookup")
    page.get_by_label("Order number").fill(number.lower())
    page.get_by_label("Email").fill("Guest@Example.com")
    page.get_by_role("button", name="Find my order").click()
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    expect(page.locator(".order-status")).to_have_text("Paid")
    expect(page.locator(".order-summary")).to_contain_text(product.name)
    expect(page.locator(".order-summary .grand").last).to_have_text(total)
    no_horizontal_scroll(page)
    if phone:
        assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, f"{suffix}-order")

    # The returns page, from the footer.
    page.locator(".site-footer").get_by_role("link", name="Free returns").click()
    expect(page.get_by_role("heading", name="Returns and refunds")).to_be_visible()
    expect(page.locator(".policy")).to_contain_text("30 days")
    no_horizontal_scroll(page)
    if phone:
        assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, f"{suffix}-returns")
