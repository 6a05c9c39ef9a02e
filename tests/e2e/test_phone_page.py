"""The phone page, finished, in a real browser at 390 px (and its desktop counterpart at
1280 px), with a real worker embedding real catalogue photos:

* every control on the photo search, find-similar, catalogue and product pages is at least
  44 × 44 px (measured with Playwright: tests/support/tap_targets.py; checkout's pages are
  measured in test_finished_journey.py);
* photo search offers two clear buttons, "Take a photo" (the camera: ``capture``) and
  "Choose from gallery" (no ``capture``, which would hide the gallery on many phones); a photo
  from the gallery is searched;
* find similar's results start on the first screen, the refinements folded into a "Refine
  results" drawer; on a desktop they stay open in the sidebar;
* the category bar and the home tiles show their whole labels ("Accessories").

axe-core: no serious or critical violation. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_storefront_journeys import DESKTOP, PHONE, assert_accessible, no_horizontal_scroll
from tests.support.catalogue import CATALOGUE_DIR, catalogue_rows
from tests.support.tap_targets import small_tap_targets

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FIRST_SCREEN = 844  # the phone viewport's height


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE, bypass_csp=True)  # axe-core is injected inline
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


def assert_tap_targets(page: Page) -> None:
    small = small_tap_targets(page)
    assert not small, f"{page.url}: controls under 44 × 44 px: {small}"


def assert_labels_whole(page: Page, selector: str) -> None:
    """Every element of ``selector`` shows its whole text, inside the viewport."""
    cut = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector)).filter(e => {
             const r = e.getBoundingClientRect();
             return e.scrollWidth > e.clientWidth + 1 || r.left < 0 || r.right > window.innerWidth + 0.5;
           }).map(e => e.textContent.trim())""",
        selector,
    )
    assert not cut, f"{page.url}: cut off: {cut}"


def test_the_phone_page(phone: Page, desktop: Page, site, import_catalogue, screenshot) -> None:
    products = import_catalogue(catalogue_rows(30))
    page = phone
    start = next(p for p in products if p.variants.filter(stock__gt=0).exists())

    # Home: the category bar and the tiles show whole labels.
    page.goto(site.url + "/")
    assert_labels_whole(page, ".category-bar a")
    assert_labels_whole(page, ".entry-title")
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    screenshot(page, "-phone-home")

    # Catalogue and product pages.
    page.goto(site.url + "/catalogue/")
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    page.goto(site.url + start.get_absolute_url())
    no_horizontal_scroll(page)
    assert_tap_targets(page)

    # Find similar: the results on the first screen, the refinements in a drawer.
    page.locator(".product-info").get_by_role("link", name="Find similar").click()
    cards = page.locator(".grid-similar .card")
    expect(cards).to_have_count(5)
    first = cards.first.bounding_box()
    assert first["y"] < FIRST_SCREEN - 200, f"the first result starts {first['y']:.0f} px down"
    toggle = page.get_by_text("Refine results")
    expect(toggle).to_be_visible()
    checkbox = page.get_by_role("checkbox", name="In stock only")
    expect(checkbox).to_be_hidden()
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "-phone-similar")
    toggle.click()
    expect(checkbox).to_be_visible()
    assert_tap_targets(page)  # the open drawer's checkboxes too
    page.get_by_role("checkbox", name="Same colour").click()  # refines at once (a new page)
    expect(page).to_have_url(re.compile(r"same_colour=1"))
    expect(cards.first).to_be_visible()

    # Photo search: the camera and the gallery, each a big button.
    page.goto(site.url + "/search/photo/")
    camera = page.get_by_label("Take a photo")
    gallery = page.get_by_label("Choose from gallery")
    expect(page.locator(".photo-pick-camera")).to_be_visible()
    expect(page.locator(".photo-pick-gallery")).to_be_visible()
    assert camera.get_attribute("capture") == "environment"
    assert gallery.get_attribute("capture") is None
    assert camera.get_attribute("accept") == gallery.get_attribute("accept") == "image/*"
    for button in (page.locator(".photo-pick-camera"), page.locator(".photo-pick-gallery")):
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "-phone-photo-search")
    query = products[3]
    gallery.set_input_files(str(CATALOGUE_DIR / "images" / f"{query.external_id}.jpg"))
    expect(page.locator("[data-photo-chosen]")).to_contain_text(f"{query.external_id}.jpg")
    expect(page.locator("form.upload-form [data-crop]")).to_be_visible()
    page.get_by_role("button", name="Find similar products").click()
    results = page.locator(".grid-similar .card")
    expect(results).to_have_count(5)
    expect(results.first.locator(".card-title")).to_have_attribute("href", f"/products/{query.pk}/")
    # Its refinements fold under "Refine results" too, so that the results come sooner.
    refine = page.locator(".photo-search .refine-toggle")
    colour = page.locator("form.refine-form select").last
    expect(refine).to_be_visible()
    expect(colour).to_be_hidden()
    assert_tap_targets(page)
    screenshot(page, "-phone-photo-results")
    refine.click()
    expect(colour).to_be_visible()
    assert_tap_targets(page)

    # The desktop: one "Choose a photo" button; find similar keeps its sidebar, open.
    desktop.goto(site.url + "/search/photo/")
    expect(desktop.locator(".photo-pick-camera")).to_be_hidden()
    expect(desktop.get_by_label("Choose a photo")).to_be_attached()
    assert_accessible(desktop)
    screenshot(desktop, "-desktop-photo-search")
    desktop.goto(site.url + start.get_absolute_url() + "similar/")
    expect(desktop.get_by_role("checkbox", name="In stock only")).to_be_visible()
    expect(desktop.get_by_text("Refine results")).to_be_hidden()
    sidebar = desktop.locator(".query-panel").bounding_box()
    grid = desktop.locator(".grid-similar").bounding_box()
    assert sidebar["x"] + sidebar["width"] <= grid["x"], "the refinements are not beside the results"
    screenshot(desktop, "-desktop-similar")
    desktop.goto(site.url + "/")
    assert_labels_whole(desktop, ".category-bar a")
    screenshot(desktop, "-desktop-home")
