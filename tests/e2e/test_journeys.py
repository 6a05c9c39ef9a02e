"""Shopper and staff journeys in a real browser, against the live server, PostgreSQL, Redis and
a real Celery worker computing real ResNet50 embeddings of real catalogue photos.

Each journey ends with a full-page screenshot in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import io
import re
import time
from urllib.parse import urlencode

import pytest
from PIL import Image, ImageEnhance
from playwright.sync_api import Page, expect

from tests.support.catalogue import CATALOGUE_DIR, catalogue_rows

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRODUCT_URL = re.compile(r"/products/(\d+)/$")
PASSWORD = "e2e-Secret-pass-42"


def admin_log_in(page: Page, site_url: str, django_user_model) -> None:
    django_user_model.objects.create_superuser("e2e-staff", "staff@example.com", PASSWORD)
    page.goto(f"{site_url}/admin/")
    page.get_by_label("Username").fill("e2e-staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalogue and visual search")).to_be_visible()


def reload_until(page: Page, url: str, check, timeout: float = 60.0, interval: float = 1.0) -> None:
    """Load ``url`` again until ``check()`` (a locator's count, text...) is true."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not show what was expected within {timeout:.0f} s")
        time.sleep(interval)


def test_shopper_filters_opens_a_product_and_follows_a_similar_one(
    page: Page, site, import_catalogue, screenshot
) -> None:
    products = import_catalogue(catalogue_rows(60))
    footwear = sum(1 for p in products if p.master_category == "Footwear")
    assert footwear >= 6

    page.goto(site.url + "/catalogue/")
    expect(page.get_by_role("heading", name=re.compile("All products"))).to_contain_text("60 items")
    expect(page.locator(".grid .card")).to_have_count(24)  # first page

    # Filter: tick "Footwear" in the sidebar's Department facet (the form submits on change).
    page.locator(".facets").get_by_role("checkbox", name=re.compile(r"^Footwear\b")).check()
    expect(page).to_have_url(re.compile(r"[?&]master=Footwear"))
    expect(page.locator(".chips")).to_contain_text("Department: Footwear")
    expect(page.locator(".results-bar h1")).to_contain_text(f"{footwear} items")
    cards = page.locator(".grid .card")
    expect(cards).to_have_count(footwear)
    footwear_types = {p.article_type for p in products if p.master_category == "Footwear"}
    for meta in cards.locator(".card-meta").all_inner_texts():
        assert meta.split(" · ")[0] in footwear_types
    screenshot(page, "-catalogue")

    # Open the first product.
    first = cards.first.locator(".card-title")
    name = first.inner_text()
    first.click()
    expect(page).to_have_url(PRODUCT_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    opened_id = int(PRODUCT_URL.search(page.url).group(1))

    # Find similar: exactly five cards, never the product itself.
    page.locator(".product-info").get_by_role("link", name="Find similar").click()
    expect(page).to_have_url(re.compile(rf"/products/{opened_id}/similar/$"))
    expect(page.get_by_role("heading", name="The 5 most similar products")).to_be_visible()
    similar = page.locator(".grid-similar .card")
    expect(similar).to_have_count(5)
    hrefs = [similar.nth(i).locator(".card-title").get_attribute("href") for i in range(5)]
    assert f"/products/{opened_id}/" not in hrefs
    assert len(set(hrefs)) == 5
    screenshot(page, "-similar")

    # Follow one of them: it lands on that product's page.
    target = similar.nth(1).locator(".card-title")
    target_name, target_href = target.inner_text(), target.get_attribute("href")
    target.click()
    expect(page).to_have_url(re.compile(re.escape(target_href) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(target_name)
    expect(page.locator(".product-info").get_by_role("link", name="Find similar")).to_be_visible()
    screenshot(page)


def test_shopper_searches_by_photo_then_uploads_a_text_file(
    page: Page, site, import_catalogue, screenshot, tmp_path
) -> None:
    products = import_catalogue(catalogue_rows(60))
    query = products[7]
    photo = CATALOGUE_DIR / "images" / f"{query.external_id}.jpg"

    page.goto(site.url + "/catalogue/")
    page.locator(".header-nav").get_by_role("link", name="Search by photo").click()
    expect(page.get_by_role("heading", name="Search by photo")).to_be_visible()
    expect(page.get_by_role("heading", name="Your matches will appear here")).to_be_visible()

    page.get_by_label("Choose a photo").set_input_files(photo)
    page.get_by_role("button", name="Find similar products").click()
    expect(page.get_by_role("heading", name="The 5 products that look most like your photo")).to_be_visible()
    preview = page.get_by_role("img", name="Your photo")
    expect(preview).to_be_visible()
    results = page.locator(".grid-similar .card")
    expect(results).to_have_count(5)
    # The catalogue's own photo finds its product first.
    expect(results.first.locator(".card-title")).to_have_attribute("href", f"/products/{query.pk}/")
    # The results sit beside the preview, not under it.
    preview_box = preview.bounding_box()
    results_box = page.locator(".grid-similar").bounding_box()
    assert preview_box["x"] + preview_box["width"] <= results_box["x"]
    assert results_box["y"] < preview_box["y"] + preview_box["height"]
    screenshot(page, "-results")

    # A text file with an image's name is refused with a message.
    notes = tmp_path / "notes.jpg"
    notes.write_text("Shopping list: a red shirt, blue jeans.\n")
    page.get_by_label("Choose a photo").set_input_files(notes)
    page.get_by_role("button", name="Find similar products").click()
    error = page.get_by_role("alert")
    expect(error).to_have_text(re.compile("not an image we can read"))
    expect(page.locator(".grid-similar .card")).to_have_count(0)
    screenshot(page)


def test_staff_add_a_lookalike_product_that_shows_up_in_find_similar(
    page: Page, site, import_catalogue, screenshot, tmp_path, django_user_model
) -> None:
    products = import_catalogue(catalogue_rows(60))
    original = products[0]
    # A near copy of the original's photo: slightly brighter, re-encoded at another quality.
    with Image.open(CATALOGUE_DIR / "images" / f"{original.external_id}.jpg") as image:
        brighter = ImageEnhance.Brightness(image.convert("RGB")).enhance(1.06)
    buffer = io.BytesIO()
    brighter.save(buffer, format="JPEG", quality=80)
    upload = tmp_path / "lookalike.jpg"
    upload.write_bytes(buffer.getvalue())
    name = f"Staff lookalike of {original.name}"[:120]

    admin_log_in(page, site.url, django_user_model)
    page.get_by_role("link", name="Products", exact=True).first.click()
    page.get_by_role("link", name="Add product", exact=True).click()
    page.get_by_label("Name:").fill(name)
    page.get_by_label("Image:").set_input_files(upload)
    page.get_by_label("Gender:").fill(original.gender)
    page.get_by_label("Master category:").fill(original.master_category)
    page.get_by_label("Sub category:").fill(original.sub_category)
    page.get_by_label("Article type:").fill(original.article_type)
    page.get_by_label("Colour:").fill(original.base_colour)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    from shop.models import Product

    added = Product.objects.get(name=name)
    # Within a minute the worker has embedded it: the change list says "Done".
    changelist = f"{site.url}/admin/shop/product/?{urlencode({'q': name})}"
    status = page.locator("#result_list tbody tr").filter(has_text=name).locator("td.field-embedding_status_tag")
    reload_until(page, changelist, lambda: status.count() == 1 and status.inner_text().strip() == "Done", 60)
    expect(status).to_have_text("Done")
    screenshot(page, "-changelist")

    # ...and it is among the products that look like the one it nearly copies.
    similar_url = f"{site.url}/products/{original.pk}/similar/?refined=1"  # stock or not
    new_title = page.locator(f'.grid-similar a.card-title[href="/products/{added.pk}/"]')
    reload_until(page, similar_url, lambda: new_title.count() == 1, 30)
    expect(page.locator(".grid-similar .card")).to_have_count(5)
    expect(new_title).to_have_text(name)
    screenshot(page)


def test_staff_reindex_missing_and_watch_it_finish(
    page: Page, site, import_catalogue, screenshot, django_user_model
) -> None:
    rows = catalogue_rows(60)
    import_catalogue(rows[:48])
    missing = import_catalogue(rows[48:], embed=False, name="no-embeddings")

    admin_log_in(page, site.url, django_user_model)
    page.goto(f"{site.url}/admin/visualsearch/reindexjob/dashboard/")
    counts = page.locator("#embedding-counts")
    expect(counts.locator('[data-count="done"]')).to_have_text("48")
    expect(counts.locator('[data-count="missing"]')).to_have_text(str(len(missing)))
    jobs = page.locator("#content-main table").filter(has=page.get_by_role("columnheader", name="Mode", exact=True))
    expect(jobs).to_contain_text("No reindex has run yet.")

    page.get_by_role("button", name=f"Reindex missing ({len(missing)})").click()
    expect(page.locator(".messagelist")).to_contain_text(f"{len(missing)} product(s) queued")

    # The page refreshes itself every 3 s while the job runs; wait for the finished row.
    row = jobs.locator("tbody tr").first
    expect(row.locator("td").nth(2)).to_have_text("Done", timeout=240_000)
    expect(row.locator("td").nth(3)).to_have_text(str(len(missing)))
    expect(row.locator("td").nth(4)).to_have_text("0")
    expect(counts.locator('[data-count="done"]')).to_have_text("60")
    expect(counts.locator('[data-count="missing"]')).to_have_text("0")
    expect(counts.locator('[data-count="pending"]')).to_have_text("0")
    expect(page.get_by_role("button", name="Reindex missing (0)")).to_be_visible()
    screenshot(page)
