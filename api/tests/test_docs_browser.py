"""/api/v1/docs in a real browser (Chromium through Playwright) with the network cut off: the
interactive docs come from the package's own static files (no CDN), render every endpoint,
and "Try it out" calls the API. Screenshots: artifacts/screenshots/api-docs-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support.browser import chromium

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("width", [390, 1280])
def test_the_docs_render_offline(browser, live_server, catalogue, width: int) -> None:
    from playwright.sync_api import expect

    host = urlparse(live_server.url).netloc
    elsewhere: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()

    def only_this_server(route) -> None:
        if urlparse(route.request.url).netloc == host:
            route.continue_()
        else:  # offline: nothing outside this server answers
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Lookalike API", timeout=15_000)
    # One block per operation of the schema the page reads (12 since the suggestions endpoint).
    schema = page.request.get(f"{live_server.url}/api/v1/openapi.json").json()
    verbs = {"get", "post", "put", "patch", "delete"}
    expected = sum(1 for methods in schema["paths"].values() for verb in methods if verb in verbs)
    assert expected >= 12
    operations = page.locator(".opblock")
    expect(operations).to_have_count(expected)
    for summary in ("List products", "Find similar", "Search by photo (multipart upload)", "Add units of one size"):
        expect(page.get_by_text(summary, exact=False).first).to_be_visible()
    assert elsewhere == [], f"the docs asked for {elsewhere}"
    assert errors == [], errors

    # Try it out: list products from the docs page.
    page.locator("#operations-catalogue-api_endpoints_catalogue_products_list").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody td.response-col_status").first).to_have_text("200", timeout=15_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-docs-{width}.png"), full_page=False)
    context.close()
