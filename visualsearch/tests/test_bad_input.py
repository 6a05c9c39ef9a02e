"""Bad input to visual search: hostile or broken uploads to the photo search page and API,
query strings (k, refinements, product ids), missing CSRF tokens and non-staff users on the
reindex admin. Every case answers a 4xx (or a documented 200) with a clear message, never a
500, and writes nothing where it should not. docs/security.md "Bad input" lists each case
with the test that proves it (the shop's own cases: shop/tests/test_bad_input.py)."""

from __future__ import annotations

import functools
import html
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse
from PIL import Image

from shop.models import Product
from tests.support.catalogue import ROOT, rows_and_photos, stored_catalogue
from tests.support.images import (
    decoded,
    encoded,
    exif_rotated_jpeg,
)
from tests.support.uploads import (
    ACCEPTED,
    REFUSED,
    SCRIPT,
    a_photo,
    animated_gif_photo,
    assert_not_echoed,
    form_errors,
    one_pixel_png,
    preview_size,
)
from visualsearch.conf import vs_settings
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob

pytestmark = pytest.mark.django_db

PAGE = "/search/photo/"
API = "/api/search/photo"
CATALOGUE_SIZE = 24


# --- The catalogue the searches run against ---------------------------------------------


@functools.cache
def _real_vectors() -> list[bytes]:
    """The catalogue photos' real embeddings (computed once, with the model)."""
    from visualsearch.ml import embedder
    from visualsearch.ml.preprocessing import bytes_to_model_input

    photos = [data for _row, data in rows_and_photos(CATALOGUE_SIZE)]
    vectors = embedder.embed_batch(np.stack([bytes_to_model_input(data) for data in photos]))
    return [vector.astype("<f4").tobytes() for vector in vectors]


@pytest.fixture
def catalogue(real_weights, db) -> list[Product]:
    """24 real products with their real embeddings: photo searches give real results (slow)."""
    return stored_catalogue(CATALOGUE_SIZE, _real_vectors())


@pytest.fixture
def site(db) -> list[Product]:
    """The same 24 products on random vectors, for tests that never embed a photo (no
    model): the site is up and its index is not empty, so what they check is the answer to
    the bad input, not an empty catalogue. A photo embedded by mistake loads TensorFlow,
    which fails a test not marked slow."""
    return stored_catalogue(CATALOGUE_SIZE)


def _media_snapshot() -> dict[str, tuple[int, int]]:
    root = Path(settings.MEDIA_ROOT)
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def _upload_temp_files() -> list[str]:
    """Django's temporary upload files (``tmpXXXX.upload.<ext>``) in this test's temp folder."""
    return [name for name in os.listdir(settings.FILE_UPLOAD_TEMP_DIR) if ".upload" in name]


@pytest.fixture
def nothing_written(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test may not add, change or remove anything under MEDIA_ROOT (the catalogue the
    test asks for is stored before)."""
    for name in ("catalogue", "site"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    before = _media_snapshot()
    yield
    assert _media_snapshot() == before, "a request wrote under MEDIA_ROOT"


def _post(client: Client, endpoint: str, name: str, data: bytes, content_type: str, query: str = "", **fields: str):
    """POST a photo to the page or the API."""
    url = {"page": PAGE, "api": API}[endpoint] + query
    return client.post(url, {"image": SimpleUploadedFile(name, data, content_type=content_type), **fields})


def _post_page(client: Client, name: str, data: bytes, content_type: str, **fields: str):
    return _post(client, "page", name, data, content_type, **fields)


def _post_api(client: Client, name: str, data: bytes, content_type: str, query: str = "", **fields: str):
    return _post(client, "api", name, data, content_type, query, **fields)


def _refusal_message(endpoint: str, response) -> str:
    """The message of a 400 refusal, in lower case, once the endpoint's shape is checked:
    the page shows the form again with the error and no results or preview; the API
    answers the JSON error envelope."""
    body = response.content.decode()
    assert response.status_code == 400, body[:2000]
    if endpoint == "page":
        assert 'class="form-error"' in body
        assert "query-photo" not in body
        assert response.context.get("result") is None
        message = " ".join(response.context["form"].errors.get("image", []))
        assert message and html.escape(message) in form_errors(body)
        return message.lower()
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 400
    return error["message"].lower()


# --- Uploads: the one table, on the page and the API ----------------------------------------

ENDPOINTS = ["page", "api"]


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_upload_is_refused_with_a_message(client: Client, site, nothing_written, endpoint: str, case: str) -> None:
    upload = REFUSED[case]
    started = time.monotonic()
    response = _post(client, endpoint, upload.file_name, upload.make(), upload.content_type)
    assert time.monotonic() - started < 5  # refused from the header, never decoded whole
    message = _refusal_message(endpoint, response)
    assert all(word in message for word in upload.words), message
    assert_not_echoed(response.content.decode())


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ACCEPTED))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unusual_image_is_searched(client: Client, catalogue, nothing_written, endpoint: str, case: str) -> None:
    upload = ACCEPTED[case]
    response = _post(client, endpoint, upload.file_name, upload.make(), upload.content_type)
    body = response.content.decode()
    assert response.status_code == 200, body[:2000]
    if endpoint == "page":
        assert len(response.context["result"].results) == 5
        assert preview_size(body) == upload.size  # upright, whatever the file's orientation
    else:
        assert len(response.json()["results"]) == 5


@pytest.mark.slow
def test_animated_gif_searches_with_its_first_frame(client: Client, catalogue, nothing_written) -> None:
    from visualsearch.ml.preprocessing import bytes_to_model_input

    gif = animated_gif_photo()
    first_frame = encoded(decoded(gif), "PNG")
    assert np.array_equal(bytes_to_model_input(gif), bytes_to_model_input(first_frame))
    from_gif = _post_api(client, "anim.gif", gif, "image/gif").json()["results"]
    from_frame = _post_api(client, "frame.png", first_frame, "image/png").json()["results"]
    assert [(r["id"], r["score"]) for r in from_gif] == [(r["id"], r["score"]) for r in from_frame]


@pytest.mark.slow
def test_exif_rotated_phone_photo_is_searched_upright(client: Client, catalogue, nothing_written) -> None:
    """A phone stores the photo sideways with EXIF Orientation 6 (rotate 90° clockwise to
    view): the search sees it upright, exactly as the upright image."""
    upright = a_photo()
    assert upright.height > upright.width
    phone = exif_rotated_jpeg(upright)  # what the sensor wrote: sideways, with the tag
    stored = decoded(phone)  # the sideways pixels, as decoded
    assert stored.width > stored.height
    upright_png = encoded(stored.transpose(Image.Transpose.ROTATE_270), "PNG")  # rotated by hand, lossless
    sideways_png = encoded(stored, "PNG")  # the same pixels with the orientation ignored

    results = {
        name: _post_api(client, f"{name}.{ext}", data, f"image/{ext}")
        for name, data, ext in (
            ("phone", phone, "jpeg"),
            ("upright", upright_png, "png"),
            ("sideways", sideways_png, "png"),
        )
    }
    assert all(r.status_code == 200 for r in results.values())
    ranked = {name: [(r["id"], r["score"]) for r in response.json()["results"]] for name, response in results.items()}
    assert ranked["phone"] == ranked["upright"]
    assert ranked["phone"] != ranked["sideways"]  # the orientation made a difference
    page = _post_page(client, "phone.jpg", phone, "image/jpeg")
    assert page.status_code == 200
    assert [(r.product.pk, round(r.score, 6)) for r in page.context["result"].results] == ranked["upright"]


@pytest.mark.slow
def test_path_traversal_and_unicode_file_name_writes_nothing(client: Client, catalogue, nothing_written) -> None:
    marker = f"lookalike-traversal-{uuid.uuid4().hex[:8]}"
    name = f"../../../{marker}-Ünïcødé-照片.jpg"
    photo = encoded(a_photo(), "JPEG")
    page = _post_page(client, name, photo, "image/jpeg")
    api = _post_api(client, name, photo, "image/jpeg")
    assert page.status_code == 200
    assert api.status_code == 200
    assert len(api.json()["results"]) == 5
    media = Path(settings.MEDIA_ROOT)
    places = [media, media.parent, ROOT, ROOT / "media", Path(tempfile.gettempdir())]
    for place in places:
        assert not list(place.glob(f"*{marker}*")), f"something was written in {place}"
    assert not list(media.rglob(f"*{marker}*"))


# --- A 50 MB upload ---------------------------------------------------------------------------

_seen_uploads: list[str] = []


class RecordingUploadHandler(FileUploadHandler):
    """Notes every file upload Django starts to read (the first handler in the chain)."""

    def new_file(self, field_name: str, file_name: str, *args: object, **kwargs: object) -> None:
        _seen_uploads.append(file_name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@pytest.fixture
def recording_uploads(settings, tmp_path) -> Iterator[list[str]]:
    """Uploads Django starts to read; its temporary upload files go to a private folder."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_HANDLERS = [
        "visualsearch.tests.test_bad_input.RecordingUploadHandler",
        *settings.FILE_UPLOAD_HANDLERS,
    ]
    _seen_uploads.clear()
    yield _seen_uploads
    _seen_uploads.clear()


FIFTY_MB = 50 * 1024 * 1024


def test_50mb_upload_is_refused_from_content_length_on_the_page(site, nothing_written, recording_uploads) -> None:
    """As a browser sends it (CSRF cookie and token): 413 before the body is parsed, so no
    temporary file is ever made and nothing is left behind."""
    browser = Client(enforce_csrf_checks=True)
    form = browser.get(PAGE)
    token = form.context["csrf_token"]
    started = time.monotonic()
    response = browser.post(
        PAGE,
        {"csrfmiddlewaretoken": str(token), "image": SimpleUploadedFile("huge.jpg", b"\xff" * FIFTY_MB, "image/jpeg")},
    )
    assert response.status_code == 413, response.content.decode()[:2000]
    assert "too large" in response.content.decode()
    assert f"{vs_settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB" in response.content.decode()
    assert recording_uploads == [], "the upload was read before it was refused"
    assert _upload_temp_files() == []
    assert time.monotonic() - started < 10


def test_50mb_upload_is_refused_from_content_length_on_the_api(
    client: Client, site, nothing_written, recording_uploads
) -> None:
    response = client.post(API, {"image": SimpleUploadedFile("huge.jpg", b"\xff" * FIFTY_MB, "image/jpeg")})
    assert response.status_code == 413
    assert "too large" in response.json()["error"]["message"]
    assert recording_uploads == []
    assert _upload_temp_files() == []


def test_upload_just_over_the_limit_is_refused_after_reading(
    client: Client, site, nothing_written, settings, tmp_path
) -> None:
    """Under the Content-Length allowance but over the photo limit: refused by size (400);
    the temporary upload file Django made for it is gone afterwards."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    data = b"\xff" * (vs_settings.MAX_UPLOAD_BYTES + 10)
    response = _post_api(client, "big.jpg", data, "image/jpeg")
    assert response.status_code == 400
    assert "too large" in response.json()["error"]["message"]
    page = _post_page(client, "big.jpg", data, "image/jpeg")
    assert page.status_code == 400
    assert "too large" in page.content.decode()
    assert _upload_temp_files() == []


def test_api_without_a_file_or_with_the_wrong_method(client: Client, site, nothing_written) -> None:
    response = client.post(API, {"photo": "not a file"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]
    response = client.post(API, data=b'{"image": "abc"}', content_type="application/json")
    assert response.status_code == 400
    assert client.get(API).status_code == 405
    assert client.put(PAGE).status_code == 405
    response = client.post(PAGE, {})
    assert response.status_code == 400
    assert "required" in " ".join(response.context["form"].errors["image"]).lower()


@pytest.mark.parametrize("boundary", ["; boundary=xyz", "", "; boundary=\x00"], ids=["cut", "no boundary", "NUL"])
def test_malformed_multipart_body(site, nothing_written, boundary: str) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nabc'
    content_type = "multipart/form-data" + boundary
    for enforce_csrf, page_status in ((False, 400), (True, 403)):  # with CSRF on, the token cannot be read
        client = Client(enforce_csrf_checks=enforce_csrf)
        assert client.post(PAGE, data=body, content_type=content_type).status_code == page_status
        api = client.post(API, data=body, content_type=content_type)
        assert api.status_code == 400
        assert api.json()["error"]["status"] == 400


# --- Query strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "status", "words"),
    [
        ("-1", 400, "at least 1"),
        ("0", 400, "at least 1"),
        ("abc", 400, "whole number"),
        ("1e3", 400, "whole number"),
        ("99999999999999999999999999", 200, ""),
        ("1000000000", 200, ""),
    ],
)
@pytest.mark.slow
def test_k_is_validated_and_capped(client: Client, catalogue, k: str, status: int, words: str) -> None:
    product = catalogue[0]
    response = client.get(f"/api/products/{product.pk}/similar", {"k": k})
    assert response.status_code == status, response.content[:1000]
    if status == 400:
        assert words in response.json()["error"]["message"]
    else:
        assert len(response.json()["results"]) == min(vs_settings.MAX_K, len(catalogue) - 1)
    photo = encoded(a_photo(), "JPEG")
    response = _post_api(client, "p.jpg", photo, "image/jpeg", query=f"?k={k}")
    assert response.status_code == status, response.content[:1000]
    if status == 200:
        assert len(response.json()["results"]) == min(vs_settings.MAX_K, len(catalogue))


@pytest.mark.parametrize(
    "url",
    [
        "/products/999999/similar/",
        "/api/products/999999/similar",
        "/products/abc/similar/",
        "/api/products/abc/similar",
        "/api/products/99999999999999999999999/similar",
    ],
)
def test_unknown_or_non_numeric_product_ids_are_404(client: Client, site, url: str) -> None:
    """Find similar's pages and API (the product pages themselves: shop/tests/test_bad_input.py)."""
    response = client.get(url)
    assert response.status_code == 404
    if url.startswith("/api/"):  # the API answers JSON, also for paths no route matches
        message = response.json()["error"]["message"]
        assert ("No active product" if url.split("/")[3].isdigit() else "Not found") in message
    else:
        assert "couldn’t find that page" in response.content.decode()


def test_inactive_product_is_404(client: Client, site) -> None:
    product = site[0]
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert client.get(f"/products/{product.pk}/similar/").status_code == 404
    assert client.get(f"/api/products/{product.pk}/similar").status_code == 404


def test_unknown_refinement_values(client: Client, site, nothing_written) -> None:
    photo = encoded(a_photo(), "JPEG")
    page = _post_page(client, "p.jpg", photo, "image/jpeg", gender="Martian")
    assert page.status_code == 400
    assert "Select a valid choice" in page.content.decode()
    page = _post_page(client, "p.jpg", photo, "image/jpeg", colour=SCRIPT)  # the value is quoted back: escaped
    assert page.status_code == 400
    assert_not_echoed(page.content.decode())
    assert "&lt;script&gt;" in page.content.decode()
    api = _post_api(client, "p.jpg", photo, "image/jpeg", gender="Martian", colour="Ultraviolet")
    assert api.status_code == 200
    assert api.json()["results"] == []
    assert api.json()["filters"] == {"gender": "Martian", "base_colour": "Ultraviolet"}
    similar = client.get(f"/products/{site[0].pk}/similar/", {"same_gender": "Martian", "bogus": "1"})
    assert similar.status_code == 200
    api = client.get(f"/api/products/{site[0].pk}/similar", {"same_colour": "yes", "colour": "Martian"})
    assert api.status_code == 200


def test_nul_characters_in_photo_filters(client: Client, site, nothing_written) -> None:
    photo = encoded(a_photo(), "JPEG")
    assert _post_page(client, "p.jpg", photo, "image/jpeg", gender="Men\x00").status_code == 400
    assert _post_api(client, "p.jpg", photo, "image/jpeg", gender="Men\x00").status_code == 200
    assert client.get(PAGE, {"gender": "\x00"}).status_code == 200


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("staffer", "staff@example.com", "x-secret-123")


def test_photo_search_form_without_csrf_token_is_refused(site, nothing_written) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get(PAGE)  # has the CSRF cookie, but the form is posted without the token
    response = browser.post(PAGE, {"image": SimpleUploadedFile("p.jpg", one_pixel_png(), "image/png")})
    assert response.status_code == 403
    no_cookie = Client(enforce_csrf_checks=True).post(
        PAGE, {"image": SimpleUploadedFile("p.jpg", one_pixel_png(), "image/png")}
    )
    assert no_cookie.status_code == 403


@pytest.mark.slow
def test_photo_search_form_with_csrf_token_works(catalogue, nothing_written) -> None:
    browser = Client(enforce_csrf_checks=True)
    token = str(browser.get(PAGE).context["csrf_token"])
    response = browser.post(
        PAGE, {"csrfmiddlewaretoken": token, "image": SimpleUploadedFile("p.jpg", one_pixel_png(), "image/png")}
    )
    assert response.status_code == 200
    assert len(response.context["result"].results) == 5


def test_admin_reindex_start_without_csrf_token_is_refused(site, staff) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    response = browser.post(reverse("admin:visualsearch_reindex_start"), {"mode": "all"})
    assert response.status_code == 403
    assert not ReindexJob.objects.exists()


# --- Staff only ---------------------------------------------------------------------------------

STAFF_POSTS = [
    "visualsearch_reindex_start",
    "visualsearch_reindex_retry",
    "visualsearch_reindex_resume",
    "visualsearch_reindex_cancel",
]


def _admin_urls(job: ReindexJob) -> list[tuple[str, str]]:
    urls = [
        ("get", reverse("admin:visualsearch_reindex_dashboard")),
        ("get", reverse("admin:visualsearch_reindexjob_changelist") + "?all="),
    ]
    urls += [("get", reverse("admin:visualsearch_productembedding_changelist"))]
    urls += [("post", reverse("admin:visualsearch_reindex_start"))]
    for name in STAFF_POSTS[1:]:
        urls.append(("post", reverse(f"admin:{name}", args=[job.pk])))
    return urls


@pytest.mark.parametrize("who", ["anonymous", "shopper"])
def test_reindex_and_admin_views_refuse_non_staff(client: Client, site, django_user_model, who: str) -> None:
    job = ReindexJob.objects.create(mode="all", state=ReindexJob.State.DONE)
    if who == "shopper":
        client.force_login(django_user_model.objects.create_user("shopper", password="x-secret-123"))
    for method, url in _admin_urls(job):
        response = getattr(client, method)(url, {"mode": "all"} if method == "post" else {})
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/admin/login/"), url
    assert list(ReindexJob.objects.values_list("pk", "state")) == [(job.pk, ReindexJob.State.DONE)]
    assert not ProductEmbedding.objects.filter(status=EmbeddingStatus.PENDING).exists()


def test_staff_without_the_reindex_permission_cannot_start_one(client: Client, site, django_user_model) -> None:
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", password="x-secret-123", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_reindexjob"))
    client.force_login(clerk)
    response = client.post(reverse("admin:visualsearch_reindex_start"), {"mode": "all"}, follow=True)
    assert response.status_code == 200
    assert "You do not have permission to run a reindex." in response.content.decode()
    assert not ReindexJob.objects.exists()


def test_reindex_views_need_post_and_a_known_mode(client: Client, site, staff) -> None:
    client.force_login(staff)
    assert client.get(reverse("admin:visualsearch_reindex_start")).status_code == 405
    response = client.post(reverse("admin:visualsearch_reindex_start"), {"mode": "everything!"}, follow=True)
    assert response.status_code == 200
    assert "Unknown reindex mode." in response.content.decode()
    assert not ReindexJob.objects.exists()
    assert client.post(reverse("admin:visualsearch_reindex_cancel", args=[999999])).status_code == 404
