"""Photo search as a modern visual search: the query kept under a token (refining without the
photo or the model, expiry), crop to search (``box``: validation and effect, the default box),
"no close match", the phone's camera, progress, and find similar's named refinements.

Fast tests embed with a stand-in for the model (``fake_embedding``: the photo's pixels, block
averaged; the catalogue's vectors are made the same way), so the photo, its region and the
catalogue agree exactly as the real model's would approximately; the real model runs in the
slow tests (a plain gradient is "nothing close")."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from shop.models import Product
from tests.support.catalogue import embedded_catalogue, rows_and_photos, stored_catalogue
from tests.support.uploads import form_errors
from visualsearch import tasks, warmup
from visualsearch.conf import vs_settings
from visualsearch.query import embedding, tokens
from visualsearch.query.photo import FULL_BOX, decode_photo
from visualsearch.query.tokens import QUERY_CACHE
from visualsearch.tests.query.photos import box_field, fake_embedding, fake_vector_of, gradient, on_plain, on_texture

pytestmark = pytest.mark.django_db

PAGE = "/search/photo/"
API = "/api/search/photo"
CARD_ID = re.compile(r'<article class="card" data-product-id="(\d+)">')
COUNT = 12


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Photo search embeds with fake_embedding; the list records each embedded input."""
    seen: list[np.ndarray] = []

    def embed(pixels: np.ndarray) -> np.ndarray:
        seen.append(pixels)
        return fake_embedding(pixels)

    monkeypatch.setattr(embedding, "_installed", embed)
    return seen


@pytest.fixture
def catalogue(db, calls: list[np.ndarray], settings) -> list[Product]:
    """12 real catalogue products whose stored vectors are fake_embedding's of their photos."""
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 0.5
    vectors = [fake_vector_of(photo) for _row, photo in rows_and_photos(COUNT)]
    return stored_catalogue(COUNT, vectors)


@pytest.fixture(autouse=True)
def _empty_query_cache() -> Iterator[None]:
    yield
    caches[QUERY_CACHE].clear() if QUERY_CACHE != "default" else None


def photo_of(product: Product) -> bytes:
    with product.image.open("rb") as handle:
        return handle.read()


def result_ids(html: str) -> list[int]:
    return [int(pk) for pk in CARD_ID.findall(html.split('id="results"', 1)[1])]


def token_in(html: str) -> str:
    match = re.search(r'<input type="hidden" name="q" value="([^"]+)">', html)
    assert match, "the page carries no query token"
    return match.group(1)


def post_page(client: Client, data: bytes, **fields: str):
    return client.post(PAGE, {"image": SimpleUploadedFile("photo.jpg", data, "image/jpeg"), **fields})


def post_api(client: Client, data: bytes | None = None, **fields: str):
    payload: dict[str, object] = dict(fields)
    if data is not None:
        payload["image"] = SimpleUploadedFile("photo.jpg", data, "image/jpeg")
    return client.post(API, payload)


# --- Keep the query: refining without the photo ---------------------------------------------------


def test_refining_re_ranks_the_kept_query_without_the_photo_or_the_model(
    client: Client, catalogue: list[Product], calls: list[np.ndarray]
) -> None:
    product = catalogue[4]
    first = post_page(client, photo_of(product), in_stock="")
    assert first.status_code == 200
    html = first.content.decode()
    assert result_ids(html)[0] == product.pk
    token = token_in(html)
    assert len(calls) == 1
    # Refine: another gender, by GET with the token; nothing is uploaded or embedded again.
    other_gender = next(p.gender for p in catalogue if p.gender != product.gender)
    refined = client.get(PAGE, {"q": token, "gender": other_gender})
    assert refined.status_code == 200, form_errors(refined.content.decode())
    ids = result_ids(refined.content.decode())
    assert ids and all(Product.objects.get(pk=pk).gender == other_gender for pk in ids)
    assert len(calls) == 1
    assert 'class="query-photo" src="data:image/jpeg;base64,' in refined.content.decode()  # the kept preview
    # The same token without filters: the first search's results again.
    again = client.get(PAGE, {"q": token})
    assert result_ids(again.content.decode()) == result_ids(html)
    assert len(calls) == 1


def test_the_cache_keeps_the_embedding_and_a_small_preview_not_the_photo(client: Client, catalogue) -> None:
    data, _box = on_texture(photo_of(catalogue[2]))
    token = token_in(post_page(client, data).content.decode())
    kept = caches[QUERY_CACHE].get(f"q:{token}")
    assert set(kept) == {"vector", "colour", "box", "preview", "model", "items"}
    # Each item found in the photo keeps its box and embedding (one here: no localiser is active).
    assert [set(item) for item in kept["items"]] == [{"box", "score", "source", "vector", "colour"}]
    assert len(kept["vector"]) == 2048 * 4
    assert kept["preview"].startswith("data:image/jpeg;base64,") and len(kept["preview"]) < 100_000
    assert data not in repr(kept).encode()


def test_an_expired_token_asks_to_search_again(client: Client, catalogue, settings) -> None:
    settings.VISUALSEARCH_QUERY_TOKEN_SECONDS = 1
    token = token_in(post_page(client, photo_of(catalogue[0])).content.decode())
    assert client.get(PAGE, {"q": token}).status_code == 200
    time.sleep(1.3)
    for response in (client.get(PAGE, {"q": token}), client.get(PAGE, {"q": "x" * 24})):
        html = response.content.decode()
        assert response.status_code == 410
        assert "This photo search has expired" in html and "Please search again" in html
        assert result_ids(html) == []
        assert 'type="file"' in html  # the form to choose the photo again
    api = post_api(client, q=token)
    assert api.status_code == 410
    assert "search again" in api.json()["error"]["message"]


def test_a_malformed_token_is_a_clear_400(client: Client, catalogue) -> None:
    page = client.get(PAGE, {"q": "not a token!"})
    assert page.status_code == 400
    assert "token" in form_errors(page.content.decode())
    api = post_api(client, q="../../etc")
    assert api.status_code == 400
    assert "q must be the token" in api.json()["error"]["message"]


def test_the_api_returns_a_token_and_accepts_it_instead_of_a_photo(
    client: Client, catalogue: list[Product], calls: list[np.ndarray]
) -> None:
    product = catalogue[6]
    body = post_api(client, photo_of(product), box="0,0,1,1").json()
    assert body["token"] and body["token_expires_in"] == 900
    assert body["close_match"] is True, body
    assert body["box"] == [0.0, 0.0, 1.0, 1.0]
    assert body["results"][0]["id"] == product.pk and "score" in body["results"][0]
    refined = post_api(client, q=body["token"], colour=product.base_colour, k="3")
    assert refined.status_code == 200
    assert len(calls) == 1
    ids = [r["id"] for r in refined.json()["results"]]
    assert ids[0] == product.pk and len(ids) <= 3
    assert all(Product.objects.get(pk=pk).base_colour == product.base_colour for pk in ids)
    assert refined.json()["token"] == body["token"]


def test_the_api_without_photo_or_token_says_what_to_send(client: Client, catalogue) -> None:
    response = client.post(API, {})
    assert response.status_code == 400
    assert "'image'" in response.json()["error"]["message"] and "'q'" in response.json()["error"]["message"]


def test_the_results_still_show_when_the_query_cache_is_down(
    client: Client, catalogue: list[Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Down:
        def set(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(tokens, "query_cache", lambda: Down())
    body = post_api(client, photo_of(catalogue[1])).json()
    assert body["token"] is None and body["results"][0]["id"] == catalogue[1].pk


# --- Crop to search -------------------------------------------------------------------------------

BAD_BOXES = {
    "three numbers": ("0.1,0.2,0.8", "four numbers"),
    "not numbers": ("a,b,c,d", "four numbers"),
    "above 1": ("0.1,0.2,1.5,0.9", "between 0 and 1"),
    "negative": ("-0.1,0.2,0.5,0.9", "between 0 and 1"),
    "not finite": ("nan,0.2,0.5,0.9", "between 0 and 1"),
    "inverted": ("0.8,0.2,0.1,0.9", "x0 < x1"),
    "too small": ("0.5,0.5,0.52,0.9", "at least 0.05"),
}


@pytest.mark.parametrize("case", list(BAD_BOXES))
def test_a_bad_box_is_a_clear_400_on_the_page_and_the_api(
    client: Client, catalogue, calls: list[np.ndarray], case: str
) -> None:
    box, words = BAD_BOXES[case]
    page = post_page(client, photo_of(catalogue[0]), box=box)
    assert page.status_code == 400
    assert escape(words) in form_errors(page.content.decode()), form_errors(page.content.decode())
    assert "Marked area" in form_errors(page.content.decode())
    api = post_api(client, photo_of(catalogue[0]), box=box)
    assert api.status_code == 400
    assert words in api.json()["error"]["message"]
    assert calls == []  # refused before anything is embedded


def test_the_box_finds_the_product_the_whole_photo_misses(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[5]
    data, box = on_texture(photo_of(product), seed=3)
    whole = post_api(client, data, box="0,0,1,1").json()
    cropped = post_api(client, data, box=box_field(box)).json()
    assert cropped["results"][0]["id"] == product.pk
    assert cropped["results"][0]["score"] > whole["results"][0]["score"] + 0.2
    assert cropped["box"] == pytest.approx(list(box), abs=1e-4)
    page = post_page(client, data, box=box_field(box))
    html = page.content.decode()
    assert result_ids(html)[0] == product.pk
    assert 'class="query-box" style="left:' in html  # the searched region drawn on the preview


def test_without_a_box_the_page_searches_the_default_box(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[8]
    data, _box = on_plain(photo_of(product))
    body = post_api(client, data).json()
    assert body["box"] != [0.0, 0.0, 1.0, 1.0]
    assert body["results"][0]["id"] == product.pk


def test_the_default_box_is_searched_with_the_whole_photo_in_one_model_call(
    client: Client, catalogue: list[Product], calls: list[np.ndarray]
) -> None:
    product = catalogue[8]
    data, _box = on_plain(photo_of(product))
    decoded = decode_photo(data)
    assert decoded.box != FULL_BOX
    body = post_api(client, data).json()
    assert body["results"][0]["id"] == product.pk
    # One call, two inputs: the trimmed region first, then the whole photo.
    assert calls[-1].shape == (2, 224, 224, 3)
    np.testing.assert_array_equal(calls[-1][0], decoded.pixels)
    np.testing.assert_array_equal(calls[-1][1], decode_photo(data, FULL_BOX).pixels)
    # The shopper's own box is searched alone, and so is a photo the default box keeps whole.
    post_api(client, data, box=box_field(decoded.box))
    assert calls[-1].shape == (1, 224, 224, 3)
    post_api(client, photo_of(product))
    assert calls[-1].shape == (1, 224, 224, 3)


# --- No close match -------------------------------------------------------------------------------


def test_below_the_threshold_the_page_says_nothing_is_very_close(client: Client, catalogue, settings) -> None:
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 1.5  # nothing can be that close
    response = post_page(client, photo_of(catalogue[0]))
    html = response.content.decode()
    assert "Nothing in the shop looks very close; the nearest are:" in html
    assert 'class="distant-results"' in html
    assert len(result_ids(html)) == 5  # still shown, visibly lesser
    assert "The 5 products that look most like your photo" not in html
    assert post_api(client, photo_of(catalogue[0])).json()["close_match"] is False
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 0.5
    html = post_page(client, photo_of(catalogue[0])).content.decode()
    assert "Nothing in the shop looks very close" not in html and "distant-results" not in html


@pytest.fixture
def embedded(make_product: Callable[..., Product]) -> list[Product]:
    return embedded_catalogue(make_product, 12)


@pytest.mark.slow
def test_a_plain_gradient_is_nothing_close_with_the_real_model(
    client: Client, embedded: list[Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    from visualsearch.conf import VisualSearchSettings

    monkeypatch.undo()  # the real query embedding
    assert VisualSearchSettings.PHOTO_CLOSE_THRESHOLD == vs_settings.PHOTO_CLOSE_THRESHOLD
    html = post_page(client, gradient()).content.decode()
    assert "Nothing in the shop looks very close; the nearest are:" in html
    assert len(result_ids(html)) == 5
    body = post_api(client, gradient()).json()
    assert body["close_match"] is False and body["results"][0]["score"] < VisualSearchSettings.PHOTO_CLOSE_THRESHOLD
    product = embedded[3]
    real = post_api(client, photo_of(product)).json()
    assert real["close_match"] is True and real["results"][0]["id"] == product.pk


# --- Phones and progress --------------------------------------------------------------------------


def test_the_form_offers_the_camera_the_crop_tool_and_progress(client: Client, catalogue) -> None:
    html = client.get(PAGE).content.decode()
    # Two buttons: the camera (capture) and the gallery (no capture: it would hide the gallery).
    inputs = re.findall(r'<input type="file"[^>]*>', html)
    assert len(inputs) == 2 and all('name="image"' in i and 'accept="image/*"' in i for i in inputs)
    assert 'capture="environment"' in inputs[0] and "capture" not in inputs[1]
    assert "Take a photo" in html and "Choose from gallery" in html
    assert 'src="/static/js/photo_search.js" defer' in html
    for hook in ("data-crop-stage", "data-crop-box", 'name="box"', "data-search-button", "data-search-progress"):
        assert hook in html
    assert "<script>" not in html  # CSP: no inline script
    after = post_page(client, photo_of(catalogue[0])).content.decode()
    assert '<div id="results" data-scroll-into-view>' in after


# --- Find similar's refinements name their values -----------------------------------------------


def test_find_similar_refinements_name_the_products_values_and_show_no_scores(client: Client, catalogue) -> None:
    from shop.labels import value_label

    product = next(p for p in catalogue if p.gender in ("Men", "Women") and p.base_colour)
    html = client.get(f"/products/{product.pk}/similar/").content.decode()
    assert f"Only {product.gender}" in html
    assert f"Same colour ({value_label(product.base_colour, 'colour')})" in html
    assert f"Same product type ({value_label(product.article_type, 'type')})" in html
    assert "Same sub category" not in html and "Same article type" not in html
    section = html.split('<section class="similar-results">', 1)[1]
    assert not re.search(r"\b[01]\.\d\d\b", section)  # no raw scores on a shopper page
    api = client.get(f"/api/products/{product.pk}/similar").json()
    assert all("score" in r for r in api["results"])  # the API keeps them


# --- Warm-up --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "serving"),
    [
        (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),
        (["manage.py", "runserver"], {}, False),  # the autoreloader's watcher process
        (["manage.py", "runserver", "--noreload"], {}, True),
        (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
        (["pytest"], {}, False),
    ],
)
def test_only_the_dev_servers_serving_process_warms_up(argv: list[str], environ: dict, serving: bool) -> None:
    assert warmup.is_dev_server_process(argv, environ) is serving


def test_the_dev_server_warms_the_model_in_a_background_thread(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    warmed: list[str] = []
    monkeypatch.setattr(warmup, "warm_up_model", lambda reason="": warmed.append(reason) or True)
    settings.VISUALSEARCH_QUERY_IN_PROCESS = True
    assert warmup.start_dev_server_warm_up() is None  # this process is pytest, not runserver
    thread = warmup.start_dev_server_warm_up(["manage.py", "runserver"], {"RUN_MAIN": "true"})
    assert thread is not None
    thread.join(5)
    assert warmed == ["development server"]
    settings.VISUALSEARCH_WARM_UP = False
    assert warmup.start_dev_server_warm_up(["manage.py", "runserver"], {"RUN_MAIN": "true"}) is None
    settings.VISUALSEARCH_WARM_UP = True
    settings.VISUALSEARCH_QUERY_IN_PROCESS = False  # a broker: the query worker warms up instead
    assert warmup.start_dev_server_warm_up(["manage.py", "runserver"], {"RUN_MAIN": "true"}) is None


def _consumer(pool_module: str, queues: set[str]) -> SimpleNamespace:
    pool_cls = type("TaskPool", (), {"__module__": pool_module})
    return SimpleNamespace(
        controller=SimpleNamespace(pool_cls=pool_cls),
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={q: q for q in queues}))),
    )


def test_the_query_worker_warms_up_when_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(tasks, "_warm_up_in_background", started.append)
    tasks.warm_up_query_worker(sender=_consumer("celery.concurrency.solo", {"query"}))
    assert started == ["query worker ready"]
    tasks.warm_up_query_worker(sender=_consumer("celery.concurrency.solo", {"celery"}))  # embeddings only
    tasks.warm_up_query_worker(sender=_consumer("celery.concurrency.prefork", {"query"}))  # its children do
    assert started == ["query worker ready"]


def test_the_warm_up_loads_the_model_and_reports_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    from visualsearch.ml import embedder

    monkeypatch.setattr(embedder, "warm_up", lambda: None)
    assert warmup.warm_up_model("test") is True

    def broken() -> None:
        raise RuntimeError("no weights")

    monkeypatch.setattr(embedder, "warm_up", broken)
    assert warmup.warm_up_model("test") is False
