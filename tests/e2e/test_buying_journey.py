"""The buying journey in a real browser, on a desktop and a 390-px phone viewport: a product
page → find similar → add a similar product to the bag from its result card → the bag →
checkout as a guest → the dummy payment → the confirmation page → the order in the admin.

Screenshots of each step go to artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.catalogue import catalogue_rows

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "e2e-Secret-pass-42"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url} scrolls sideways: {width} px wide in a {viewport} px viewport"


def buy_a_similar_product(page: Page, site_url: str, products: list, screenshot, suffix: str, phone: bool) -> str:
    from shop.importing.demo import demo_prices_apply, demo_stock_apply

    demo_prices_apply()
    demo_stock_apply()
    start = next(p for p in products if p.variants.filter(stock__gt=0).exists())

    # The product page: price, size picker, find similar.
    page.goto(f"{site_url}{start.get_absolute_url()}")
    # A price, or (a demo sale: about one product in four) the sale price, the former one and the discount.
    price = r"₹[\d,]+\.00"
    expect(page.locator(".product-info .price")).to_have_text(re.compile(rf"^(Now )?{price}( was {price} −\d+% off)?$"))
    expect(page.locator(".size-picker")).to_be_visible()
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-product")
    page.locator(".product-info").get_by_role("link", name="Find similar").click()
    expect(page.get_by_role("heading", name="The 5 most similar products")).to_be_visible()
    cards = page.locator(".grid-similar .card")
    expect(cards).to_have_count(5)

    # Add the first similar product that is in stock, straight from its result card.
    card = cards.filter(has=page.locator(".card-buy")).first
    name = card.locator(".card-title").inner_text()
    price = card.locator(".card-price").inner_text().split(" ")[0]
    size_select = card.locator("select[name=variant]")
    if size_select.count():
        value = size_select.locator("option:not([disabled])").nth(1).get_attribute("value")
        size_select.select_option(value)
    if phone:
        no_horizontal_scroll(page)
        box = card.get_by_role("button", name="Add to bag").bounding_box()
        assert box["height"] >= 44, "the card's add-to-bag button is too small to tap"
    card.get_by_role("button", name="Add to bag").click()
    expect(page.get_by_role("status").filter(has_text=f"Added {name}")).to_be_visible()
    expect(page.locator(".bag-badge")).to_have_text("1")
    screenshot(page, f"{suffix}-similar-added")

    # The bag, then checkout as a guest.
    page.locator(".nav-bag").click()
    expect(page.get_by_role("heading", name="Your bag")).to_be_visible()
    expect(page.locator(".bag-line-name")).to_have_text(name)
    expect(page.locator(".bag-subtotal")).to_have_text(price)
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-bag")
    page.get_by_role("link", name="Checkout").click()
    page.get_by_label("Email").fill("guest@example.com")
    page.get_by_label("Full name").fill("Guest Shopper")
    page.get_by_label("Address", exact=True).fill("12 MG Road")
    page.get_by_label("City").fill("Bengaluru")
    page.get_by_label("Postcode / PIN").fill("560001")
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-details")
    page.get_by_role("button", name="Continue to delivery").click()
    expect(page.get_by_role("heading", name="Delivery")).to_be_visible()
    page.get_by_role("button", name="Review your order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.locator(".review-line-name")).to_have_text(name)
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-review")
    page.get_by_role("button", name=re.compile("Place order and pay")).click()

    # The dummy provider's payment form: confirm.
    expect(page.get_by_role("heading", name="Payment")).to_be_visible()
    page.get_by_label("Status", exact=True).select_option("confirmed")
    screenshot(page, f"{suffix}-payment")
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = page.locator(".order-number").inner_text()
    expect(page.locator(".bag-badge")).to_have_text("0")
    if phone:
        no_horizontal_scroll(page)
    screenshot(page, f"{suffix}-confirmation")
    return number


def staff_see_the_order(page: Page, site_url: str, number: str, django_user_model, screenshot, suffix: str) -> None:
    django_user_model.objects.create_superuser("e2e-staff", "staff@example.com", PASSWORD)
    page.goto(f"{site_url}/admin/")
    page.get_by_label("Username").fill("e2e-staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#orders-order")).to_be_visible()
    page.goto(f"{site_url}/admin/orders/order/?q={number}")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("Paid")
    expect(row).to_contain_text("guest@example.com (guest)")
    screenshot(page, f"{suffix}-admin")


def test_guest_buys_a_similar_product_on_desktop(
    page: Page, site, import_catalogue, screenshot, django_user_model
) -> None:
    from orders.models import Order

    products = import_catalogue(catalogue_rows(30))
    number = buy_a_similar_product(page, site.url, products, screenshot, "", phone=False)
    assert Order.objects.get(number=number).status == "paid"
    staff_see_the_order(page, site.url, number, django_user_model, screenshot, "")


def test_guest_buys_a_similar_product_on_a_phone(
    phone_page: Page, site, import_catalogue, screenshot, django_user_model
) -> None:
    from orders.models import Order

    products = import_catalogue(catalogue_rows(30))
    number = buy_a_similar_product(phone_page, site.url, products, screenshot, "", phone=True)
    assert Order.objects.get(number=number).status == "paid"
    staff_see_the_order(phone_page, site.url, number, django_user_model, screenshot, "")
