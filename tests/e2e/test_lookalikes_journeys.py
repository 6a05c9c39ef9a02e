"""Price-aware lookalikes and discovery in a real browser, on a 390-px phone and a 1280-px
desktop: view three products → the home page's "Inspired by what you viewed" row shows related,
unviewed, in-stock products (and "Recently viewed" the three); the bag shows the row too; "Similar,
but cheaper" on find similar shows only products cheaper than the one looked at; the catalogue's
"Sale" filter and a product on sale; photo search's price fields. axe-core on every page (no
serious or critical violation); screenshots in artifacts/screenshots/test_lookalikes-*.png.

40 real catalogue products, demo prices (a quarter on sale) and stock, embedded with the real
model in this process before the first page (no worker needed: nothing is uploaded)."""

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

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# What a phone shopper taps on the pages this journey adds to.
NEW_TAP_TARGETS = (
    ".price-refinements label, .price-refinements select, .offer-toggle, "
    ".price-filters label.checkbox-label, .price-filters input[type=number], .price-filters select"
)
SMALL_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(e => e.offsetParent !== null)
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0 && r.height < 44)
  .map(([e, r]) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(r.height)}px`)"""


@pytest.fixture
def shop_url(live_server: Any, settings: Any, tmp_path: Path, transactional_db: None, real_model: None) -> str:
    from shop.models import Product
    from visualsearch.services import embeddings

    settings.ROOT_URLCONF = "tests.e2e.conftest"
    folder = write_catalogue(tmp_path / "catalogue", catalogue_rows(40))
    options = ["--no-embeddings", "--demo-prices", "--demo-stock"]
    call_command("import_catalogue", str(folder), *options, verbosity=0, stdout=io.StringIO())
    ids = list(Product.objects.values_list("pk", flat=True))
    assert embeddings.embeddings_compute(ids).done == len(ids)
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


def card_ids(page: Page, selector: str) -> list[int]:
    return [int(v) for v in page.locator(f"{selector} .card").evaluate_all("cs => cs.map(c => c.dataset.productId)")]


def open_refinements(page: Page, *, phone: bool) -> None:
    """On a phone the refinements fold under "Refine results" (the journey's phone page): open it."""
    if phone and page.locator(".refine-drawer[open]").count() == 0:
        page.locator(".refine-toggle").first.click()


def check(page: Page, *, phone: bool) -> None:
    assert_accessible(page)
    no_horizontal_scroll(page)
    if phone:
        small = page.evaluate(SMALL_JS, NEW_TAP_TARGETS)
        assert not small, f"{page.url}: tap targets under 44 px: {small}"


@pytest.mark.parametrize("context_page", [PHONE, DESKTOP], indirect=True, ids=["phone", "desktop"])
def test_lookalikes(context_page: Page, shop_url: str, screenshot, request: pytest.FixtureRequest) -> None:
    from shop.models import Product

    page = context_page
    phone = "phone" in request.node.callspec.id
    suffix = "-phone" if phone else "-desktop"

    # Nothing viewed yet: no discovery row at all.
    page.goto(shop_url + "/")
    expect(page.locator(".home-row").first).to_be_visible()
    expect(page.locator("[data-discovery]")).to_have_count(0)

    # View three in-stock apparel products, the dearest last.
    apparel = sorted(
        (p for p in Product.objects.filter(master_category="Apparel").prefetch_related("variants") if p.in_stock),
        key=lambda p: p.price,
    )
    viewed = [apparel[0], apparel[len(apparel) // 2], apparel[-1]]
    for product in viewed:
        page.goto(shop_url + product.get_absolute_url())
        expect(page.locator("h1")).to_have_text(product.name)

    page.goto(shop_url + "/")
    inspired = page.locator('[data-discovery="inspired"]')
    expect(inspired.get_by_role("heading", name="Inspired by what you viewed")).to_be_visible()
    inspired_ids = card_ids(page, '[data-discovery="inspired"]')
    assert 1 <= len(inspired_ids) <= 6
    assert not set(inspired_ids) & {p.pk for p in viewed}  # unviewed
    products = Product.objects.prefetch_related("variants").in_bulk(inspired_ids)
    assert all(products[pk].in_stock for pk in inspired_ids)  # in stock
    types = [products[pk].article_type for pk in inspired_ids]
    assert max(types.count(t) for t in types) <= 2  # varied
    # Related: the real model puts clothes next to clothes.
    assert sum(products[pk].master_category == "Apparel" for pk in inspired_ids) * 2 >= len(inspired_ids)
    assert card_ids(page, '[data-discovery="recent"]') == [p.pk for p in reversed(viewed)]
    check(page, phone=phone)
    inspired.scroll_into_view_if_needed()
    screenshot(page, f"{suffix}-home")

    page.goto(shop_url + "/bag/")
    expect(page.locator('[data-discovery="inspired"] .card').first).to_be_visible()
    check(page, phone=phone)
    screenshot(page, f"{suffix}-bag")

    # Similar, but cheaper: only products priced below the one looked at.
    dearest = viewed[-1]
    page.goto(shop_url + f"/products/{dearest.pk}/similar/")
    expect(page.locator(".similar-results .card").first).to_be_visible()
    open_refinements(page, phone=phone)
    page.get_by_label(re.compile("Similar, but cheaper")).check()
    expect(page).to_have_url(re.compile(r"cheaper=1"))
    expect(page.locator(".price-note")).to_contain_text("only products under")
    cheaper_ids = card_ids(page, ".similar-results")
    assert cheaper_ids
    prices = Product.objects.in_bulk(cheaper_ids)
    assert all(prices[pk].price < dearest.price for pk in cheaper_ids)
    open_refinements(page, phone=phone)
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url(re.compile(r"sort=price"))
    sorted_ids = card_ids(page, ".similar-results")
    assert set(sorted_ids) == set(cheaper_ids)
    assert [prices[pk].price for pk in sorted_ids] == sorted(prices[pk].price for pk in sorted_ids)
    check(page, phone=phone)
    screenshot(page, f"{suffix}-similar-cheaper")

    # Sales: the catalogue's Sale filter, and a product on sale.
    page.goto(shop_url + "/catalogue/?sale=1&sort=discount")
    expect(page.locator(".chips")).to_contain_text("On sale")
    sale_ids = card_ids(page, ".results")
    assert sale_ids and all(Product.objects.get(pk=pk).on_sale for pk in sale_ids)
    expect(page.locator(".card .discount-badge").first).to_be_visible()
    check(page, phone=phone)
    screenshot(page, f"{suffix}-sale")
    page.goto(shop_url + Product.objects.get(pk=sale_ids[0]).get_absolute_url())
    expect(page.locator(".product-info .price-was")).to_be_visible()
    check(page, phone=phone)
    screenshot(page, f"{suffix}-product-on-sale")

    page.goto(shop_url + "/search/photo/")
    expect(page.get_by_label("Cheaper than the best match")).to_be_visible()
    check(page, phone=phone)
    screenshot(page, f"{suffix}-photo-search")
