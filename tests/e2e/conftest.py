"""Real-browser journeys: Debian's Chromium driven by Playwright against pytest-django's
live server on the PostgreSQL test database, with a real Celery worker on a Redis database of
its own computing the embeddings.

* Playwright's sync API keeps an asyncio loop running in the test thread while it is started,
  and Django refuses ORM calls beside a running loop. The browser is therefore started here,
  module-scoped, with Playwright's public API (the loop ends with this module instead of living
  on into the rest of the suite), and DJANGO_ALLOW_ASYNC_UNSAFE is set only while this module
  runs. pytest-playwright's plugin is disabled (``-p no:playwright`` in pyproject.toml).
* The worker is module-scoped (TensorFlow takes a while to start); every test imports its own
  products into the freshly flushed database and waits until the worker has embedded them.
* The test settings do not serve media (DEBUG is off), so the live server gets a URLconf that
  also serves MEDIA_ROOT: without it every product photo would be a broken image.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import re_path
from django.views.static import serve
from playwright.sync_api import Browser, Page, expect, sync_playwright

import config.urls
from tests.support.catalogue import write_catalogue
from tests.support.servers import Worker, database_url, leased_redis_db, publishing_to, start_worker

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The broker: E2E_REDIS_URL if set, else a Redis database leased for this run (see e2e_broker).
PINNED_BROKER = os.environ.get("E2E_REDIS_URL", "")
EMBED_TIMEOUT = 420.0  # seconds for the worker to embed one test's products (2 busy cores)
WORKER_KEY = pytest.StashKey[Worker]()

# The live server's URLconf: the site's own, plus MEDIA_ROOT (see the module docstring).
urlpatterns = [
    *config.urls.urlpatterns,
    re_path(rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]


# --- Every journey is slow --------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A journey starts Chromium, a live server and a worker: every test in this folder is
    marked ``slow`` and ``e2e``, whatever its module says."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.e2e)


# --- Chromium and Playwright ----------------------------------------------------------------
# Playwright's public sync API only (sync_playwright, BrowserType.launch, Browser.new_context),
# not pytest-playwright's fixtures: theirs are session-scoped, and their loop would then live
# on beside the ORM in the rest of the suite (see the module docstring).


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Let the test thread use the ORM while Playwright's loop runs in it (this module only)."""
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)
    if saved is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright: None) -> Iterator[Browser]:
    """Debian's Chromium (Playwright's own browser download is not available here), headless,
    started once for the module."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page per test, with generous timeouts: the machine is
    shared and has two cores."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.set_default_navigation_timeout(90_000)
    try:
        yield page
    finally:
        context.close()


# --- The worker, the live server and the data ------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """A failing journey's report ends with the worker's log."""
    report = yield
    worker = item.config.stash.get(WORKER_KEY, None)
    if report.failed and worker is not None:
        report.sections.append((f"Celery worker log ({worker.log_path})", worker.log()[-20_000:] or "(empty)"))
    return report


@pytest.fixture(scope="module")
def e2e_broker() -> Iterator[str]:
    """A Redis database of the journeys' own, empty: E2E_REDIS_URL, or one leased on REDIS_URL's
    server, so that journeys run at the same time by someone else never take this worker's
    tasks (nor this worker theirs)."""
    import redis

    if PINNED_BROKER:
        redis.Redis.from_url(PINNED_BROKER).flushdb()  # nothing left over from an interrupted run
        yield PINNED_BROKER
        return
    try:
        with leased_redis_db(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as url:
            yield url
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def e2e_worker(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    real_weights: None,
    e2e_broker: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """One real Celery worker for the module, on the test database and the journeys' broker."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail(
            "The browser journeys need PostgreSQL shared with a Celery worker: set DATABASE_URL "
            "(e.g. postgres://postgres@127.0.0.1:5432/lookalike).",
            pytrace=False,
        )
    worker = start_worker(
        database_url(connection.settings_dict), e2e_broker, log_dir=tmp_path_factory.mktemp("e2e-worker")
    )
    request.config.stash[WORKER_KEY] = worker
    try:
        worker.wait_ready(timeout=300)
        yield worker
    finally:
        worker.stop(timeout=20)
        worker.kill()
        del request.config.stash[WORKER_KEY]


@dataclass
class Site:
    url: str
    worker: Worker


@pytest.fixture
def site(live_server: Any, e2e_worker: Worker, e2e_broker: str, settings: Any) -> Iterator[Site]:
    """The live server with this process (and so the server's thread) publishing tasks to the
    worker's broker; search indexes look for new embeddings every half second."""
    settings.ROOT_URLCONF = __name__
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.5
    settings.VISUALSEARCH_QUERY_TIMEOUT = 60.0
    with publishing_to(e2e_broker):
        yield Site(live_server.url, e2e_worker)


def wait_until_embedded(products: list, worker: Worker, timeout: float = EMBED_TIMEOUT) -> None:
    """Poll until the worker has computed every one of these products' embeddings."""
    from django.db.models import Count

    from visualsearch.models import EmbeddingStatus, ProductEmbedding

    ids = [p.pk for p in products]
    deadline = time.monotonic() + timeout
    while True:
        rows = ProductEmbedding.objects.filter(product_id__in=ids)
        by_status = dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
        if by_status.get(EmbeddingStatus.DONE, 0) == len(ids):
            return
        failed = list(rows.filter(status=EmbeddingStatus.FAILED).values_list("product_id", "error")[:5])
        if failed:
            pytest.fail(f"embeddings failed: {failed}")
        not_queued = list(rows.exclude(error="").values_list("product_id", "error")[:3])
        if not_queued:
            pytest.fail(f"embeddings not computed: {not_queued}")
        if not worker.alive():
            pytest.fail(f"the worker died:\n{worker.log()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout:.0f} s, of {len(ids)} products' embeddings: {by_status}")
        time.sleep(0.5)


@pytest.fixture
def import_catalogue(site: Site, tmp_path: Path) -> Callable[..., list]:
    """import_catalogue real catalogue rows (images copied to a temporary folder, never the repo).
    With the broker configured the import queues one embedding task per batch; unless
    ``embed`` is off, wait until the worker has embedded them all."""
    from shop.models import Product

    def run(rows: list[dict[str, str]], *, embed: bool = True, name: str = "catalogue") -> list[Product]:
        folder = write_catalogue(tmp_path / name, rows)
        # Priced and stocked like the demo shop (find similar shows products in stock by default).
        options = ["--demo-prices", "--demo-stock"] + ([] if embed else ["--no-embeddings"])
        call_command("import_catalogue", str(folder), *options, verbosity=0, stdout=io.StringIO())
        products = list(Product.objects.filter(external_id__in=[r["id"] for r in rows]).order_by("pk"))
        assert len(products) == len(rows), "some catalogue rows were not imported"
        if embed:
            wait_until_embedded(products, site.worker)
        return products

    return run


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """Save a full-page screenshot as artifacts/screenshots/<test name><suffix>.png (git-ignored),
    once every image of the page has loaded (cards load lazily); a broken image fails the test."""

    def take(page: Any, suffix: str = "") -> Path:
        height = page.evaluate("document.documentElement.scrollHeight")
        for y in range(0, height + 1, 600):
            page.evaluate(f"window.scrollTo(0, {y})")
        # Polled with evaluate(): wait_for_function() evaluates a string, which the site's
        # Content-Security-Policy (no 'unsafe-eval') refuses.
        deadline = time.monotonic() + 30
        while not page.evaluate("() => Array.from(document.images).every(image => image.complete)"):
            assert time.monotonic() < deadline, f"images still loading on {page.url} after 30 s"
            page.wait_for_timeout(100)
        page.evaluate("window.scrollTo(0, 0)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.originalname}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        broken = page.evaluate(
            # An <img> with no src yet (the crop tool's, until a photo is chosen) is not broken.
            "Array.from(document.images).filter(i => i.hasAttribute('src') && !i.naturalWidth)"
            ".map(i => i.currentSrc || i.src)"
        )
        assert not broken, f"broken images on {page.url} (see {path}): {broken}"
        return path

    return take
