"""The storefront in a real browser, on a 390-px phone and a 1280-px desktop: the home page,
the catalogue (filters drawer, chips, numbered pages, 2-column grid), text search, a product
page and the bag; every page checked with axe-core (no serious or critical violations).

axe-core is the npm package, read from var/axe-core/axe.min.js (git-ignored; or from
AXE_CORE_DIR); when missing, the test fetches it with ``npm pack axe-core@AXE_VERSION``. No embeddings are needed here:
the journeys run on the live server alone (no worker), products imported without them.
Screenshots go to artifacts/screenshots/test_phone_storefront-*.png (git-ignored)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.support.catalogue import catalogue_rows, write_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.10.3"
# AXE_CORE_DIR: another folder for it (var/ may be a read-only link to shared weights).
AXE_DIR = Path(os.environ.get("AXE_CORE_DIR") or ROOT / "var" / "axe-core")
AXE_FILE = AXE_DIR / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SMALL_TARGETS_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(e => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0 && r.height < 44)
  .map(([e, r]) => `${e.tagName.toLowerCase()}.${e.className} `
    + `"${(e.innerText || e.value || '').trim().slice(0, 30)}" ${Math.round(r.height)}px`)"""
# What a phone shopper taps: the header, the category bar, the catalogue's tools, chips,
# pages, the open drawer, card buttons, the product's buy form.
TAP_TARGETS = (
    ".site-header a, .site-header button, .site-header summary, .site-header input, "
    ".category-bar a, .results-tools a, .results-tools select, .chips a, .pagination a, "
    ".facets.is-open summary, .facets.is-open label, .facets.is-open button, .facets.is-open a, "
    ".card button, .card select, .card-title, .buy-form button, .entry, .see-all, .breadcrumbs a"
)


def axe_source() -> str:
    """axe-core's browser build, fetched once into var/axe-core with npm when missing."""
    if not AXE_FILE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"axe-core is missing at {AXE_FILE} and npm is not installed to fetch it.", pytrace=False)
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(AXE_DIR)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        archive = AXE_DIR / f"axe-core-{AXE_VERSION}.tgz"
        if result.returncode or not archive.is_file():
            pytest.fail(f"npm pack axe-core@{AXE_VERSION} failed:\n{result.stderr[-2000:]}", pytrace=False)
        with tarfile.open(archive) as tar:
            for name in ("axe.min.js", "LICENSE"):
                member = tar.extractfile(f"package/{name}")
                assert member is not None
                (AXE_DIR / name).write_bytes(member.read())
    return AXE_FILE.read_text(encoding="utf-8")


def assert_accessible(page: Page) -> None:
    """axe-core's rules on the page as it is: no serious or critical violation."""
    page.add_script_tag(content=axe_source())
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations
             .filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => `${v.impact} ${v.id}: ${v.help} — `
               + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"""
    )
    assert not violations, f"{page.url}:\n" + "\n".join(violations)


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("window.innerWidth"), f"{page.url} scrolls sideways ({width} px)"


def assert_tap_targets(page: Page) -> None:
    small = page.evaluate(SMALL_TARGETS_JS, TAP_TARGETS)
    assert not small, f"{page.url}: tap targets under 44 px: {small}"


@pytest.fixture
def storefront(live_server: Any, settings: Any, tmp_path: Path, transactional_db: None) -> str:
    """The live server (with media) on 60 real catalogue products with demo prices and stock."""
    settings.ROOT_URLCONF = "tests.e2e.conftest"
    folder = write_catalogue(tmp_path / "catalogue", catalogue_rows(60))
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


@pytest.mark.parametrize("context_page", [PHONE], indirect=True)
def test_phone_storefront(context_page: Page, storefront: str, screenshot) -> None:
    from shop.models import Product

    page = context_page
    # Home: a compact sticky header, entry points, "Search by photo", rows of products.
    page.goto(storefront + "/")
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 64, header
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] >= 8, "the header touches the screen's edge"
    expect(page.locator(".hero-actions").get_by_role("link", name="Search by photo")).to_be_visible()
    expect(page.locator(".entry-points a")).to_have_count(5)
    expect(page.locator(".home-row").first.locator(".card").first).to_be_visible()
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "-home")

    # The menu opens the categories and the account links.
    page.locator(".menu-button").click()
    expect(page.locator(".menu-panel").get_by_role("link", name="Kids")).to_be_visible()
    expect(page.locator(".header-nav").get_by_role("link", name="Log in")).to_be_visible()
    page.locator(".menu-panel").get_by_role("link", name="Footwear").click()
    expect(page).to_have_url(re.compile(r"/catalogue/\?master=Footwear$"))
    page.goto(storefront + "/catalogue/")

    # Catalogue: two columns, filters behind a "Filters" button.
    cards = page.locator(".grid .card")
    expect(cards).to_have_count(24)
    first, second, third = (cards.nth(i).bounding_box() for i in range(3))
    assert first["y"] == second["y"] < third["y"] and first["x"] < second["x"], "not a 2-column grid"
    facets = page.locator("#filters")
    expect(facets).not_to_be_in_viewport()
    assert page.locator(".grid .card").first.bounding_box()["y"] < 844, "the first product is below the fold"
    pages = page.locator(".pagination")
    expect(pages.locator(".page-current")).to_have_text("1")
    expect(pages.get_by_role("link", name="Page 3")).to_be_visible()
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)

    page.get_by_role("button", name="Filters").click()
    expect(facets).to_be_in_viewport()
    expect(page.get_by_role("button", name="Filters")).to_have_attribute("aria-expanded", "true")
    facets.get_by_role("checkbox", name=re.compile(r"^Men\b")).check()
    facets.get_by_role("checkbox", name=re.compile(r"^Footwear\b")).check()
    assert "gender=" not in page.url  # choices wait for "Show results"
    assert_tap_targets(page)
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_phone_storefront-filters.png"))  # the open drawer, as seen
    facets.get_by_role("button", name="Show results").click()
    expect(page).to_have_url(re.compile(r"gender=Men.*master=Footwear|master=Footwear.*gender=Men"))
    men_footwear = Product.objects.filter(gender="Men", master_category="Footwear").count()
    expect(page.locator(".results-bar h1")).to_contain_text(f"{men_footwear} item")
    chips = page.locator(".chips")
    expect(chips.locator(".chip-remove")).to_have_count(2)
    screenshot(page, "-catalogue")
    # Remove one chip: the other filter stays.
    chips.get_by_role("link", name=re.compile("Gender: Men")).click()
    expect(page).to_have_url(re.compile(r"/catalogue/\?[^#]*master=Footwear"))
    assert "gender=" not in page.url
    expect(page.locator(".chips .chip-remove")).to_have_count(1)

    # Text search from the header: plurals and typos find products, most relevant first.
    search = page.get_by_role("combobox", name="Search products")
    search.fill("tshrt")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalogue/\?q=tshrt"))
    expect(page.locator(".close-matches")).to_contain_text("tshirt")
    expect(page.locator(".sort-form select")).to_have_value("relevance")
    expect(page.locator(".grid .card").first.locator(".card-meta")).to_contain_text("T-shirts")
    screenshot(page, "-search")

    # A product page: name, price, colour, category path, details; no internal fields.
    product = Product.objects.filter(variants__stock__gt=0).exclude(usage="").distinct().first()
    page.goto(storefront + product.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    expect(page.locator(".product-info .price")).to_have_text(re.compile(r"^₹[\d,]+\.00$"))
    details = page.locator(".product-details")
    expect(details).to_contain_text("Category")
    expect(details).to_contain_text(product.usage)
    body = page.locator("main").inner_text()
    for internal in ("Catalogue id", "Season", product.external_id, " match"):
        assert internal not in body, internal
    no_horizontal_scroll(page)
    assert_tap_targets(page)
    assert_accessible(page)
    screenshot(page, "-product")

    # Into the bag, and the bag page.
    in_stock = page.locator(".size-option:not(.is-sold-out)").first
    in_stock.click()
    page.locator(".buy-form").get_by_role("button", name="Add to bag").click()
    expect(page.locator(".bag-badge")).to_have_text("1")
    page.locator(".nav-bag").click()
    expect(page.get_by_role("heading", name="Your bag")).to_be_visible()
    no_horizontal_scroll(page)
    assert_accessible(page)
    screenshot(page, "-bag")


@pytest.mark.parametrize("context_page", [DESKTOP], indirect=True)
def test_desktop_storefront_is_accessible(context_page: Page, storefront: str, screenshot) -> None:
    from shop.models import Product

    page = context_page
    page.goto(storefront + "/")
    expect(page.locator(".header-nav").get_by_role("link", name="Search by photo")).to_be_visible()
    expect(page.locator(".menu-button")).to_be_hidden()
    assert_accessible(page)
    screenshot(page, "-home")

    page.locator(".category-bar").get_by_role("link", name="Women").click()
    expect(page).to_have_url(re.compile(r"/catalogue/\?gender=Women$"))
    expect(page.locator("#filters")).to_be_visible()  # the sidebar, no drawer
    expect(page.get_by_role("button", name="Filters")).to_be_hidden()
    # On a desktop a ticked facet submits at once.
    page.locator(".facets").get_by_role("checkbox", name=re.compile(r"^Apparel\b")).check()
    expect(page).to_have_url(re.compile(r"master=Apparel"))
    expect(page.locator(".chips")).to_contain_text("Department: Apparel")
    assert_accessible(page)
    screenshot(page, "-catalogue")

    # Old links to the catalogue on "/" keep working.
    page.goto(storefront + "/?q=watches")
    expect(page.locator(".results-bar h1")).to_contain_text("Results for “watches”")
    watches = Product.objects.filter(article_type="Watches").count()
    expect(page.locator(".results-bar .count")).to_have_text(f"{watches} items")

    product = Product.objects.filter(variants__stock__gt=0).distinct().first()
    page.goto(storefront + product.get_absolute_url())
    expect(page.locator(".breadcrumbs")).to_contain_text("Home")
    assert_accessible(page)
    screenshot(page, "-product")

    page.goto(storefront + "/bag/")
    assert_accessible(page)
    screenshot(page, "-bag")
