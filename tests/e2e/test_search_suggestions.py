"""The header's search box suggests as the shopper types (static/js/search_suggest.js, the
WAI-ARIA combobox pattern), driven with the keyboard in Chromium on a 390-px phone and a
1280-px desktop, checked with axe-core while the list is open; without JavaScript it is a plain
search form. Screenshots: artifacts/screenshots/test_search_suggestions-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_storefront_journeys as journeys
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_storefront_journeys import DESKTOP, PHONE, assert_accessible, no_horizontal_scroll

# The storefront journeys' fixtures: the live server on 60 real products, a page per viewport.
storefront = journeys.storefront
context_page = journeys.context_page

# The placeholder's text width against the room inside the box (the phone used to show "Search p").
PLACEHOLDER_FITS_JS = """(input) => {
  const style = getComputedStyle(input);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [context.measureText(input.placeholder).width, room, input.placeholder];
}"""


@pytest.mark.parametrize("context_page", [PHONE, DESKTOP], indirect=True, ids=["phone", "desktop"])
def test_suggestions_with_the_keyboard(context_page: Page, storefront: str, request) -> None:
    from shop import labels
    from shop.models import Product

    width = "phone" if context_page.viewport_size["width"] < 500 else "desktop"
    article_type = Product.objects.values_list("article_type", flat=True).order_by("article_type").first()
    label = labels.value_label(article_type, "type")
    page = context_page
    page.goto(storefront + "/")
    box = page.get_by_role("combobox", name="Search products")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_attribute("aria-autocomplete", "list")
    text_width, room, placeholder = page.evaluate(PLACEHOLDER_FITS_JS, box.element_handle())
    assert text_width <= room, f"the placeholder {placeholder!r} is cut: {text_width:.0f} px in {room:.0f} px"
    assert placeholder == ("Search" if width == "phone" else "Search products, brands, colours…")

    # Typing lists suggestions; the first is the product type typed.
    box.click()
    box.press_sequentially(label[:3].lower(), delay=60)
    listbox = page.get_by_role("listbox", name="Search suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", "site-search-suggestions")
    options = listbox.get_by_role("option")
    first = options.first
    expect(first).to_contain_text(label)
    expect(first).to_contain_text("Product type")
    expect(page.get_by_role("status").filter(has_text="suggestion")).to_have_count(1)
    for box_of in [options.nth(i).bounding_box() for i in range(options.count())]:
        assert box_of["height"] >= 44, box_of
    # Down, down, up: the active option moves, the focus stays in the box.
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "site-search-suggestions-0")
    expect(first).to_have_attribute("aria-selected", "true")
    if options.count() > 1:
        box.press("ArrowDown")
        expect(box).to_have_attribute("aria-activedescendant", "site-search-suggestions-1")
        expect(first).to_have_attribute("aria-selected", "false")
        box.press("ArrowUp")
        expect(box).to_have_attribute("aria-activedescendant", "site-search-suggestions-0")
    expect(box).to_be_focused()
    no_horizontal_scroll(page)
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"test_search_suggestions-{width}-open.png"))

    # Escape closes the list and keeps the text; Down opens it again; Enter opens the choice.
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_be_hidden()
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    expect(box).to_have_value(label[:3].lower())
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-activedescendant", "site-search-suggestions-0")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalogue/\?type=" + re.escape(article_type.replace(" ", "+")) + "$"))
    expect(page.locator(".grid .card").first).to_be_visible()

    # Enter without choosing searches the text as typed; Escape on a closed list clears it.
    box = page.get_by_role("combobox", name="Search products")
    box.fill("")
    box.press_sequentially(label[:4].lower(), delay=60)
    expect(page.get_by_role("listbox", name="Search suggestions")).to_be_visible()
    box.press("Escape")
    box.press("Escape")
    expect(box).to_have_value("")
    box.press_sequentially(label.lower(), delay=30)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalogue/\?q="))
    expect(page.locator(".results-bar h1")).to_contain_text(label.lower())
    page.screenshot(path=str(SCREENSHOTS / f"test_search_suggestions-{width}-results.png"))

    # A typo: the close matches are shown, and "Did you mean" runs the corrected query.
    typo = label.lower()[:-3] + label.lower()[-2:]  # "backpacks" → "backpaks"
    page.goto(storefront + "/catalogue/?q=" + typo)
    did_you_mean = page.locator(".did-you-mean a")
    expect(did_you_mean).to_be_visible()
    assert did_you_mean.bounding_box()["height"] >= 44
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / f"test_search_suggestions-{width}-did-you-mean.png"))
    corrected = did_you_mean.inner_text()
    did_you_mean.click()
    expect(page).to_have_url(re.compile(r"/catalogue/\?q=" + re.escape(corrected) + "$"))
    expect(page.locator(".did-you-mean")).to_have_count(0)
    expect(page.locator(".grid .card").first).to_be_visible()


def test_without_javascript_the_box_is_a_plain_search_form(browser: Browser, storefront: str) -> None:
    context = browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(storefront + "/")
        box = page.get_by_role("searchbox", name="Search products")
        expect(box).not_to_have_attribute("role", "combobox")
        box.fill("shirts")
        box.press("Enter")
        expect(page).to_have_url(re.compile(r"/catalogue/\?q=shirts$"))
    finally:
        context.close()
