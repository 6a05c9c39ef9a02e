"""The product page's gallery in a real browser (Chromium through Playwright), on a phone
(390 px, touch) and a desktop (1280 px): three real catalogue photos, thumbnails that pick a
photo, arrow keys on the focused gallery, a swipe (the track scrolled as a finger scrolls it)
that moves the current thumbnail and the "2 / 3" count, the zoom dialog at full size (Escape
closes it and focus returns), no sideways scroll, tap targets of at least 44 px, axe-core
with no serious or critical violation, and screenshots (artifacts/screenshots/gallery-*.png)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import re_path
from django.views.static import serve

import config.urls
from shop.models import Product, ProductImage
from tests.support.browser import chromium
from tests.support.catalogue import catalogue_photo, give_stock, product_fields, rows_with_images

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_VERSION = "4.10.3"
AXE_FILE = ROOT / "var" / "axe-core" / "axe.min.js"  # where tests/e2e keeps it

urlpatterns = [
    *config.urls.urlpatterns,
    re_path(rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def axe(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's browser build: tests/e2e's copy, else fetched with npm for this module."""
    if AXE_FILE.is_file():
        return AXE_FILE.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("axe-core is missing and npm is not installed to fetch it.", pytrace=False)
    folder = tmp_path_factory.mktemp("axe")
    subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(folder)], check=True, timeout=300)
    with tarfile.open(folder / f"axe-core-{AXE_VERSION}.tgz") as tar:
        member = tar.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode()


@pytest.fixture
def product(live_server, settings, make_product: Callable[..., Product]) -> tuple[str, Product]:
    settings.ROOT_URLCONF = __name__
    rows = rows_with_images(60)  # round-robin over 20 types: three of each
    main = rows[0]
    same_type = [r for r in rows[1:] if r["articleType"] == main["articleType"]][:2]
    product = make_product(image=catalogue_photo(main), **product_fields(main), price="799.00")
    for position, (row, alt) in enumerate(zip(same_type, ("Back view", "Detail"), strict=True), start=1):
        image = ProductImage(product=product, position=position, alt_text=alt)
        image.image.save(f"gallery-{position}.jpg", ContentFile(catalogue_photo(row)), save=False)
        image.save()
    give_stock([product])
    return live_server.url, product


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)])
def test_the_gallery_picks_swipes_and_zooms(browser, axe: str, product, width: int, height: int) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    base, item = product
    phone = width < 500
    context = browser.new_context(
        viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone, device_scale_factor=2
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    thumbs = page.locator("[data-gallery-thumb]")
    track = page.locator("[data-gallery-track]")
    try:
        page.goto(base + item.get_absolute_url())
        expect(page.locator(".gallery-slide")).to_have_count(3)
        expect(thumbs).to_have_count(3)
        assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert [t.get_attribute("aria-current") for t in thumbs.all()] == ["true", None, None]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"gallery-{width}.png"))

        # A thumbnail shows its photo.
        thumbs.nth(2).click()
        expect(thumbs.nth(2)).to_have_attribute("aria-current", "true")
        page.wait_for_function("() => document.querySelector('[data-gallery-track]').scrollLeft > 10")
        # The keyboard: Home, then the right arrow, on the focused gallery.
        track.focus()
        page.keyboard.press("Home")
        expect(thumbs.nth(0)).to_have_attribute("aria-current", "true")
        page.keyboard.press("ArrowRight")
        expect(thumbs.nth(1)).to_have_attribute("aria-current", "true")
        page.keyboard.press("Home")
        expect(thumbs.nth(0)).to_have_attribute("aria-current", "true")
        page.wait_for_function("() => document.querySelector('[data-gallery-track]').scrollLeft < 2")
        # A swipe scrolls the track by one photo: the count and the thumbnail follow it.
        page.evaluate(
            "() => { const t = document.querySelector('[data-gallery-track]');"
            " t.scrollTo({left: t.clientWidth, behavior: 'instant'}); }"
        )
        expect(thumbs.nth(1)).to_have_attribute("aria-current", "true")
        if phone:
            expect(page.locator("[data-gallery-count]")).to_have_text("2 / 3")
            small = page.evaluate(
                "() => [...document.querySelectorAll('.gallery-thumb')]"
                ".map(e => e.getBoundingClientRect()).filter(r => r.width < 44 || r.height < 44).length"
            )
            assert small == 0
            page.screenshot(path=str(SCREENSHOTS / f"gallery-{width}-swiped.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        # Zoom: the photo at full size in a dialog; Escape closes it and focus comes back.
        page.locator(".gallery-slide").nth(1).locator("a").click()
        dialog = page.locator("dialog.zoom-dialog")
        expect(dialog).to_be_visible()
        full_url = page.locator(".gallery-slide").nth(1).locator("a").get_attribute("href")
        assert page.locator("dialog.zoom-dialog img").get_attribute("src") == full_url
        assert page.locator("dialog.zoom-dialog img").get_attribute("alt") == "Back view"
        if not phone:
            page.locator(".zoom-stage").click(position={"x": 200, "y": 150})
            expect(page.locator(".zoom-stage")).to_have_class("zoom-stage is-zoomed")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"gallery-{width}-zoom.png"))
        page.evaluate(axe)  # through the DevTools protocol: the page keeps its CSP
        violations = page.evaluate(
            """async () => (await axe.run(document)).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${v.impact} ${v.id}: ${v.help} — ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')))"""
        )
        assert not violations, violations
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert page.evaluate("() => document.activeElement.classList.contains('gallery-zoom')")
        page.evaluate(axe)  # through the DevTools protocol: the page keeps its CSP
        violations = page.evaluate(
            """async () => (await axe.run(document)).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"""
        )
        assert not violations, violations
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"gallery-{width}-full.png"), full_page=True)
        assert errors == [], errors
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_admin_inline_shows_the_more_images(browser, product, admin_user, client, width: int) -> None:
    """Staff's side, for the screenshot: the product's page in the admin with its more images
    inline (thumbnail, description, order, make main, delete)."""
    base, item = product
    client.force_login(admin_user)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    page = context.new_page()
    try:
        page.goto(base + f"/admin/shop/product/{item.pk}/change/")
        inline = page.locator("#images-group")
        inline.scroll_into_view_if_needed()
        assert inline.locator("tr.has_original").count() == 2
        assert inline.locator("td.field-preview img").count() == 2
        assert "make main" in inline.inner_text().lower()
        inline.screenshot(path=str(SCREENSHOTS / f"gallery-admin-inline-{width}.png"))
    finally:
        context.close()
