"""Staff retrain similarity from the admin on the embedded default (no broker: the retrain
runs in the server process's background thread): the button asks first, the page answers at
once and shows progress, then the new head's outcome, in plain words with before/after
examples; a second retrain on unchanged data adds no head.

The catalogue is test_heads' synthetic one (stored vectors and labels; training needs no
model), each product with a small picture of its colour so the examples show thumbnails.
Screenshots at 1280 and 390 px go to artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.e2e.test_journeys import admin_log_in
from visualsearch.models import HeadTrainingJob, SimilarityHead
from visualsearch.services import head_training
from visualsearch.tests.services.test_heads import COLOURS, FAST, TYPES, make_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

HEADS = "/admin/visualsearch/similarityhead/"
RGB = {"Black": (30, 30, 30), "Blue": (40, 80, 200), "Red": (200, 40, 40), "White": (235, 235, 235)}


def draw_pictures(products: list) -> None:
    """A 60×80 JPEG per product at its image path: its colour, a shape per article type."""
    for product in products:
        path = Path(settings.MEDIA_ROOT) / product.image.name
        path.parent.mkdir(parents=True, exist_ok=True)
        picture = Image.new("RGB", (60, 80), (250, 250, 250))
        shape = TYPES.index(product.article_type)
        colour = RGB[product.base_colour] if product.base_colour in COLOURS else (128, 128, 128)
        ImageDraw.Draw(picture).regular_polygon((30, 40, 24), 3 + shape, fill=colour, outline=(0, 0, 0))
        picture.save(path, "JPEG", quality=85)


@pytest.fixture
def embedded_site(live_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The live server as the embedded default runs: tasks in-process, long jobs in the
    background thread; quick training settings for the small synthetic catalogue."""
    settings.ROOT_URLCONF = "tests.e2e.conftest"  # the site's URLs and MEDIA_ROOT
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.VISUALSEARCH_HEAD_EPOCHS = 12
    settings.VISUALSEARCH_HEAD_MIN_LABELLED = 50
    settings.VISUALSEARCH_HEAD_MIN_EVAL_QUERIES = 40
    settings.VISUALSEARCH_HEAD_BOOTSTRAP_SAMPLES = 500
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10_000
    real = head_training.head_train
    monkeypatch.setattr(head_training, "head_train", lambda **kw: real(params=FAST, **kw))
    yield live_server.url
    from core.background import background_wait_idle

    assert background_wait_idle(180), "the background retrain did not finish"


def test_staff_retrain_from_the_admin_see_progress_then_the_outcome(
    page: Page, embedded_site: str, screenshot, django_user_model
) -> None:
    draw_pictures(make_catalogue(900))
    admin_log_in(page, embedded_site, django_user_model)
    page.goto(f"{embedded_site}{HEADS}")
    expect(page.get_by_role("heading", name="What shoppers get now")).to_be_visible()
    page.get_by_role("link", name="Retrain similarity…").click()
    expect(page.get_by_text("The new head becomes active only if")).to_be_visible()
    screenshot(page, "-confirm")

    started = time.monotonic()
    page.get_by_role("button", name="Yes, retrain in the background").click()
    expect(page.locator(".messagelist")).to_contain_text("started in the background")
    answered = time.monotonic() - started
    assert answered < 10, f"the retrain request took {answered:.0f} s"
    progress = page.locator("#retrain-progress")
    expect(progress).to_contain_text("running")
    expect(progress.get_by_role("progressbar")).to_be_visible()
    expect(progress.get_by_role("button", name="Cancel retrain")).to_be_visible()
    screenshot(page, "-running")

    # The page refreshes itself every 3 s while the retrain runs.
    outcome = page.locator("#retrain-outcome")
    expect(outcome).to_contain_text("Activated", timeout=240_000)
    head = SimilarityHead.objects.get()
    expect(outcome).to_contain_text(head.version)
    expect(page.locator("#latest-sentences")).to_contain_text("are the same kind of product (was")
    expect(page.locator("#retrain-examples .vs-example")).to_have_count(4)
    expect(page.locator("#served-model-version")).to_contain_text(head.version)
    screenshot(page, "-done")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "-done-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Again on unchanged data: the head is reused, none is added.
    page.get_by_role("link", name="Retrain similarity…").click()
    page.get_by_role("button", name="Yes, retrain in the background").click()
    expect(outcome).to_contain_text("Nothing changed since", timeout=120_000)
    expect(outcome).to_contain_text(f"{head.version} is reused, no copy added")
    assert SimilarityHead.objects.count() == 1
    assert list(HeadTrainingJob.objects.order_by("pk").values_list("outcome", flat=True)) == ["activated", "reused"]
    screenshot(page, "-reused")
