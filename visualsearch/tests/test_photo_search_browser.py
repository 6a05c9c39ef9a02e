"""Search by photo in a real browser (Chromium through Playwright), on a phone (390 px) and a
desktop (1280 px): choose a photo of a product lying on a brick wall, drag a box around it,
search (the button disables, a spinner shows), get the product first, refine without the
photo, and the screenshots (artifacts/screenshots/photo-search-*.png) of the results with
the crop box. Real model, in this process (the live server's thread embeds the query)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import re_path
from django.views.static import serve

import config.urls
from shop.models import Product
from tests.support.browser import chromium
from tests.support.catalogue import catalogue_photo, product_fields, rows_with_images
from visualsearch.ml.shopper_photos import PlacedPhoto, placed_photo

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

urlpatterns = [
    *config.urls.urlpatterns,
    re_path(rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def shop(live_server, settings, make_product: Callable[..., Product]) -> tuple[str, list[Product]]:
    settings.ROOT_URLCONF = __name__
    settings.VISUALSEARCH_QUERY_IN_PROCESS = True
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    from visualsearch.models import EmbeddingStatus, ProductEmbedding
    from visualsearch.services import embeddings

    products = [make_product(image=catalogue_photo(row), **product_fields(row)) for row in rows_with_images(12)]
    embeddings.embeddings_compute([p.pk for p in products])  # already done where the save's task ran
    assert ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE).count() == 12
    return live_server.url, products


def a_photo_on_bricks(products: list[Product], tmp_path: Path) -> tuple[Path, PlacedPhoto, Product]:
    """A product's photo placed on a textured background (a wall, a floor), as a file."""
    for seed in range(40):
        for product in products:
            with product.image.open("rb") as handle:
                photo = placed_photo(product.pk, handle.read(), seed=seed)
            width = photo.box[2] - photo.box[0]
            if photo.background == "texture" and width < 0.6:
                path = tmp_path / "photo-on-a-wall.jpg"
                path.write_bytes(photo.data)
                return path, photo, product
    raise AssertionError("no placed photo on a texture")


AXE_FILE = ROOT / "var" / "axe-core" / "axe.min.js"


def assert_accessible(page) -> None:
    """axe-core (when tests/e2e has fetched it into var/axe-core): no serious or critical
    violation on the page with results and the crop tool open. Evaluated through the
    DevTools protocol, so the page's CSP stays on."""
    if not AXE_FILE.is_file():
        return
    page.evaluate(AXE_FILE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    assert violations == [], violations


def drag_box(page, box: tuple[float, float, float, float]) -> None:
    """Draw ``box`` (0–1 of the photo), a few pixels loose, once the photo is laid out. Every
    point stays inside the stage: a press just outside it (a box at the photo's edge) would
    draw nothing."""
    stage = page.locator("form.upload-form [data-crop-stage]")
    stage.scroll_into_view_if_needed()
    deadline = time.monotonic() + 30
    loaded = (
        "() => { const i = document.querySelector('form.upload-form [data-crop-image]');"
        " return !!i && i.complete && i.naturalWidth > 0 }"
    )
    while not page.evaluate(loaded):
        assert time.monotonic() < deadline, "the chosen photo did not load into the crop tool"
        page.wait_for_timeout(100)
    frame = stage.bounding_box()
    assert frame is not None

    def at(fraction: float, start: float, size: float, loose: float) -> float:
        return min(max(start + fraction * size + loose, start + 1), start + size - 1)

    x0, y0 = at(box[0], frame["x"], frame["width"], -4), at(box[1], frame["y"], frame["height"], -4)
    x1, y1 = at(box[2], frame["x"], frame["width"], 4), at(box[3], frame["y"], frame["height"], 4)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)])
def test_search_by_photo_with_a_crop_box(browser, shop, tmp_path: Path, width: int, height: int) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    base, products = shop
    path, photo, product = a_photo_on_bricks(products, tmp_path)
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=width < 500)
    page = context.new_page()
    page.set_default_timeout(90_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + "/search/photo/")
        camera = page.locator('form.upload-form input[type="file"][capture="environment"]')
        assert camera.get_attribute("accept") == "image/*"
        # The gallery's input (no capture) is the one a desktop offers.
        file_input = page.locator('form.upload-form input[type="file"]:not([capture])')
        assert file_input.get_attribute("accept") == "image/*"
        file_input.set_input_files(str(path))
        expect(page.locator("form.upload-form [data-crop]")).to_be_visible()
        expect(page.locator("form.upload-form [data-crop-box]")).to_be_visible()
        # The default box is shown but not sent: the server trims alike and tries the whole photo too.
        assert page.locator("[data-crop-input]").input_value() == ""
        drag_box(page, photo.box)
        sent = page.locator("[data-crop-input]").input_value()
        values = [float(v) for v in sent.split(",")]
        assert all(abs(a - b) < 0.05 for a, b in zip(values, photo.box, strict=True)), (sent, photo.box)
        page.locator('form.upload-form input[name="in_stock"]').uncheck()  # the test's products have no sizes
        # Progress: hold the submission once to see the disabled button and the spinner.
        page.evaluate(
            """() => { const f = document.querySelector('form.upload-form');
                      f.addEventListener('submit', (e) => e.preventDefault(), { once: true }); }"""
        )
        page.locator("form.upload-form [data-search-button]").click()
        expect(page.locator("form.upload-form [data-search-button]")).to_be_disabled()
        expect(page.locator("form.upload-form [data-search-progress]")).to_be_visible()
        page.evaluate("() => document.querySelector('form.upload-form').submit()")
        page.wait_for_url("**/search/photo/")
        first = page.locator("#results article.card").first
        expect(first).to_have_attribute("data-product-id", str(product.pk))
        expect(page.locator(".query-box")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if width < 500:  # on a phone the results scrolled into view after the search
            top = page.evaluate("() => document.getElementById('results').getBoundingClientRect().top")
            assert 0 <= top < height / 2, top
            page.screenshot(path=str(SCREENSHOTS / f"photo-search-{width}-results-in-view.png"))
        # Refine without the photo: another colour keeps the query (no new upload).
        token = page.locator('form.refine-form input[name="q"]').input_value()
        assert token
        # The crop box on the "another photo" form, over the results, for the screenshot.
        page.locator('form.upload-form input[type="file"]:not([capture])').set_input_files(str(path))
        expect(page.locator("form.upload-form [data-crop]")).to_be_visible()
        drag_box(page, photo.box)
        assert_accessible(page)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"photo-search-{width}.png"), full_page=True)
        page.goto(base + f"/search/photo/?q={token}&colour={product.base_colour}&in_stock=")
        expect(page.locator("#results article.card").first).to_have_attribute("data-product-id", str(product.pk))
        assert errors == [], errors
    finally:
        context.close()
