"""Photo search with the item localiser in a real browser (Chromium through Playwright), on a
phone (390 px) and a desktop (1280 px): upload a photo of two products lying apart, see two
outlines on the photo and two rows of results, tap the second outline, see its results first;
axe-clean; screenshots in artifacts/screenshots/photo-items-*.png. Real model and a localiser
trained on the real model (tests.support.fixtures.trained_localiser)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shop.models import Product
from tests.support.browser import chromium
from tests.support.catalogue import catalogue_photo, catalogue_rows, photo_path, product_fields
from visualsearch.ml import embedder, scenes
from visualsearch.ml.head import split_of
from visualsearch.ml.localiser_training import model_input
from visualsearch.tests.test_photo_search_browser import SCREENSHOTS, assert_accessible, urlpatterns

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

__all__ = ["urlpatterns"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def shop(live_server, settings, make_product: Callable[..., Product], trained_localiser, real_model) -> tuple:
    """12 held-out catalogue products embedded by the real model, and the trained localiser active."""
    settings.ROOT_URLCONF = __name__
    settings.VISUALSEARCH_QUERY_IN_PROCESS = True
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    from visualsearch.models import ItemLocaliser
    from visualsearch.services import embeddings, localisers

    rows = [row for row in catalogue_rows(600) if photo_path(row).is_file()]
    held = [row for row, split in zip(rows, split_of([int(r["id"]) for r in rows]), strict=True) if split == "eval"]
    products = [make_product(image=catalogue_photo(row), **product_fields(row)) for row in held[:12]]
    embeddings.embeddings_compute([p.pk for p in products])
    row = ItemLocaliser.objects.create(
        backbone_version=embedder.model_version(), weights=trained_localiser.to_bytes(), metrics={}
    )
    localisers.localiser_activate(row)
    return live_server.url, products


def two_item_photo(products: list[Product], localiser, tmp_path: Path) -> tuple[Path, scenes.Scene]:
    """A generated photo of two of the products in which the localiser finds both (IoU ≥ 0.5)."""
    for number in range(12):
        pair = products[number % 6 * 2 : number % 6 * 2 + 2]
        images = [(p.pk, Image.open(p.image.path).convert("RGB")) for p in pair]
        scene = scenes.make_scene(images, scenes.scene_rng(77, number), scenes.EVALUATION, distractors=(0, 0))
        _vectors, maps = embedder.embed_with_features(model_input(scene)[np.newaxis])
        boxes = [d.box for d in localiser.detect(maps[0])]
        if len(boxes) == 2 and all(any(scenes.iou(b, item.box) >= 0.5 for b in boxes) for item in scene.items):
            path = tmp_path / "two-things-on-a-table.jpg"
            path.write_bytes(scene.jpeg())
            return path, scene
    raise AssertionError("the localiser found both items in none of 12 two-item photos")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)])
def test_two_items_two_outlines_two_rows_then_tap_one(
    browser, shop, trained_localiser, tmp_path: Path, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    base, products = shop
    path, _scene = two_item_photo(products, trained_localiser, tmp_path)
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=width < 500)
    page = context.new_page()
    page.set_default_timeout(90_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + "/search/photo/")
        # The phone layout's two buttons stay beside the items (the camera's only on phones).
        expect(page.locator(".photo-pick-gallery")).to_be_visible()
        if width < 861:
            expect(page.locator(".photo-pick-camera")).to_be_visible()
        page.locator('form.upload-form input[type="file"]:not([capture])').set_input_files(str(path))
        page.locator('form.upload-form input[name="in_stock"]').uncheck()  # the test's products have no sizes
        page.locator("form.upload-form [data-search-button]").click()
        page.wait_for_url("**/search/photo/")
        outlines = page.locator(".query-frame a.item-outline")
        expect(outlines).to_have_count(2)
        rows = page.locator("#results section.item-row")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator("article.card")).not_to_have_count(0)
        expect(rows.nth(0).locator("h2")).to_contain_text("Item 1")
        for number in range(2):  # each outline is a tap target of at least 44 × 44 px
            box = outlines.nth(number).bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"photo-items-{width}.png"), full_page=True)
        second_first = rows.nth(1).locator("article.card").first.get_attribute("data-product-id")
        assert_accessible(page)
        # Tap the second outline: its results come first, without uploading the photo again.
        outlines.nth(1).click()
        page.wait_for_url("**item=1**")
        expect(page.locator(".query-frame a.item-outline.is-selected")).to_have_attribute("aria-current", "true")
        expect(page.locator("#results section.item-row").first.locator("h2")).to_contain_text("Item 2")
        expect(page.locator("#results section.item-row").first.locator("article.card").first).to_have_attribute(
            "data-product-id", str(second_first)
        )
        # The refinements (a drawer on phones) refine the item shown.
        expect(page.locator('.refine-drawer input[name="item"]')).to_have_value("1")
        page.screenshot(path=str(SCREENSHOTS / f"photo-items-{width}-item-2.png"), full_page=True)
        assert_accessible(page)
        assert errors == [], errors
    finally:
        context.close()
