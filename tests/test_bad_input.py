"""Bad input: hostile or broken uploads, query strings, missing CSRF tokens and non-staff
users. Every case answers a 4xx (or a documented 200) with a clear message, never a 500,
and writes nothing where it should not. README.md "Security: bad input" lists each case
with the test that proves it."""

from __future__ import annotations

import functools
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse
from PIL import Image

from shop.models import Product
from tests.support.catalogue import ROOT, catalogue_photo, catalogue_rows, product_fields
from tests.support.images import (
    animated_gif,
    bomb_png,
    decoded,
    encoded,
    exif_rotated_jpeg,
    sixteen_bit_png,
    truncated_jpeg,
)
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob

pytestmark = pytest.mark.django_db

PAGE = "/search/photo/"
API = "/api/search/photo"
CATALOGUE_SIZE = 24


# --- The catalogue the searches run against ---------------------------------------------


@functools.cache
def _catalogue_vectors() -> list[tuple[dict[str, str], bytes, bytes]]:
    """Real catalogue rows with their image bytes and real embeddings (computed once)."""
    from visualsearch.ml import embedder
    from visualsearch.ml.preprocessing import bytes_to_model_input

    rows = catalogue_rows(CATALOGUE_SIZE)
    images = [catalogue_photo(row) for row in rows]
    vectors = embedder.embed_batch(np.stack([bytes_to_model_input(data) for data in images]))
    return [(row, data, vec.astype("<f4").tobytes()) for row, data, vec in zip(rows, images, vectors, strict=True)]


@pytest.fixture
def catalogue(real_weights) -> list[Product]:
    """24 real products with their real embeddings, saved without queueing any task."""
    from visualsearch.ml.embedder import MODEL_VERSION

    products = []
    for row, data, _vector in _catalogue_vectors():
        name = f"products/bad-input-{row['id']}.jpg"
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        products.append(Product(**product_fields(row), season=row["season"], usage=row["usage"], image=name))
    products = Product.objects.bulk_create(products)  # no signals: nothing is queued
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, vector=vec, status=EmbeddingStatus.DONE, model_version=MODEL_VERSION)
        for p, (_row, _data, vec) in zip(products, _catalogue_vectors(), strict=True)
    )
    return products


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
def nothing_written(catalogue) -> Iterator[None]:
    """The test may not add, change or remove anything under MEDIA_ROOT."""
    before = _media_snapshot()
    yield
    assert _media_snapshot() == before, "a request wrote under MEDIA_ROOT"


# --- Upload bodies -----------------------------------------------------------------------


def _catalogue_photo() -> Image.Image:
    """A real product photo (60×80, portrait) that is not in the searched catalogue."""
    return decoded(catalogue_photo(catalogue_rows(CATALOGUE_SIZE + 40)[-1]))


def _truncated_jpeg() -> bytes:
    return truncated_jpeg(_catalogue_photo(), (300, 400), quality=90)


def _animated_gif() -> bytes:
    first = _catalogue_photo()
    return animated_gif(first, Image.new("RGB", first.size, (0, 160, 0)))


def _cmyk_jpeg() -> bytes:
    return encoded(_catalogue_photo().convert("CMYK"), "JPEG", quality=95)


def _png_16bit() -> bytes:
    return sixteen_bit_png(_catalogue_photo())


def _one_pixel() -> bytes:
    return encoded(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG")


SCRIPT = '<script>alert("owned")</script>'
SVG = f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{SCRIPT}<rect width="10" height="10"/></svg>'
HTML = f"<!doctype html><html><body><h1>hi</h1>{SCRIPT}</body></html>"

# name → (file name, bytes, content type, expected status, what the message says)
REFUSED: dict[str, tuple[str, Callable[[], bytes], str, tuple[str, ...]]] = {
    "zero bytes": ("empty.jpg", lambda: b"", "image/jpeg", ("empty",)),
    "text named .jpg": ("notes.jpg", lambda: b"just some text, not a photo\n" * 20, "image/jpeg", ("not an image",)),
    "truncated JPEG": ("cut.jpg", _truncated_jpeg, "image/jpeg", ("truncated or corrupt",)),
    "20000x20000 PNG bomb": ("bomb.png", bomb_png, "image/png", ("too large", "megapixels")),
    "SVG with a script": (f"{SCRIPT}.svg", lambda: SVG.encode(), "image/svg+xml", ("not an image",)),
    "HTML with a script": ("page.jpg", lambda: HTML.encode(), "text/html", ("not an image",)),
}
ACCEPTED: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "1x1 image": ("dot.png", _one_pixel, "image/png"),
    "animated GIF": ("anim.gif", _animated_gif, "image/gif"),
    "CMYK JPEG": ("cmyk.jpg", _cmyk_jpeg, "image/jpeg"),
    "16-bit PNG": ("deep.png", _png_16bit, "image/png"),
}


def _post_page(client: Client, name: str, data: bytes, content_type: str, **fields: str):
    return client.post(PAGE, {"image": SimpleUploadedFile(name, data, content_type=content_type), **fields})


def _post_api(client: Client, name: str, data: bytes, content_type: str, query: str = "", **fields: str):
    return client.post(API + query, {"image": SimpleUploadedFile(name, data, content_type=content_type), **fields})


def _assert_not_echoed(body: str) -> None:
    assert SCRIPT not in body
    assert "<script" not in body.lower()


# --- Uploads that are refused ---------------------------------------------------------------


@pytest.mark.parametrize("case", list(REFUSED))
def test_photo_page_refuses_bad_upload_with_a_message(client: Client, nothing_written, case: str) -> None:
    name, make, content_type, words = REFUSED[case]
    started = time.monotonic()
    response = _post_page(client, name, make(), content_type)
    body = response.content.decode()
    assert response.status_code == 400, body[:2000]
    assert time.monotonic() - started < 5  # refused from the header, never decoded whole
    assert 'class="form-error"' in body
    errors = " ".join(response.context["form"].errors.get("image", [])).lower()
    assert all(word in errors for word in words), errors
    _assert_not_echoed(body)
    assert response.context.get("result") is None


@pytest.mark.parametrize("case", list(REFUSED))
def test_photo_api_refuses_bad_upload_with_a_message(client: Client, nothing_written, case: str) -> None:
    name, make, content_type, words = REFUSED[case]
    started = time.monotonic()
    response = _post_api(client, name, make(), content_type)
    assert response.status_code == 400, response.content[:2000]
    assert time.monotonic() - started < 5
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 400
    assert all(word in error["message"].lower() for word in words), error
    _assert_not_echoed(response.content.decode())


# --- Uploads that work ----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_photo_page_and_api_accept_unusual_images(client: Client, nothing_written, case: str) -> None:
    name, make, content_type = ACCEPTED[case]
    data = make()
    page = _post_page(client, name, data, content_type)
    assert page.status_code == 200, page.content.decode()[:2000]
    assert len(page.context["result"].results) == 5
    api = _post_api(client, name, data, content_type)
    assert api.status_code == 200, api.content[:2000]
    assert len(api.json()["results"]) == 5


def test_animated_gif_searches_with_its_first_frame(client: Client, nothing_written) -> None:
    from visualsearch.ml.preprocessing import bytes_to_model_input

    gif = _animated_gif()
    first_frame = encoded(decoded(gif), "PNG")
    assert np.array_equal(bytes_to_model_input(gif), bytes_to_model_input(first_frame))
    from_gif = _post_api(client, "anim.gif", gif, "image/gif").json()["results"]
    from_frame = _post_api(client, "frame.png", first_frame, "image/png").json()["results"]
    assert [(r["id"], r["score"]) for r in from_gif] == [(r["id"], r["score"]) for r in from_frame]


def test_exif_rotated_phone_photo_is_searched_upright(client: Client, nothing_written) -> None:
    """A phone stores the photo sideways with EXIF Orientation 6 (rotate 90° clockwise to
    view): the search sees it upright, exactly as the upright image."""
    upright = _catalogue_photo()
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


def test_path_traversal_and_unicode_file_name_writes_nothing(client: Client, nothing_written) -> None:
    marker = f"lookalike-traversal-{uuid.uuid4().hex[:8]}"
    name = f"../../../{marker}-Ünïcødé-照片.jpg"
    photo = encoded(_catalogue_photo(), "JPEG")
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
        "tests.test_bad_input.RecordingUploadHandler",
        *settings.FILE_UPLOAD_HANDLERS,
    ]
    _seen_uploads.clear()
    yield _seen_uploads
    _seen_uploads.clear()


FIFTY_MB = 50 * 1024 * 1024


def test_50mb_upload_is_refused_from_content_length_on_the_page(nothing_written, recording_uploads) -> None:
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
    assert f"{settings.VISUALSEARCH_MAX_UPLOAD_BYTES / 1e6:.0f} MB" in response.content.decode()
    assert recording_uploads == [], "the upload was read before it was refused"
    assert _upload_temp_files() == []
    assert time.monotonic() - started < 10


def test_50mb_upload_is_refused_from_content_length_on_the_api(
    client: Client, nothing_written, recording_uploads
) -> None:
    response = client.post(API, {"image": SimpleUploadedFile("huge.jpg", b"\xff" * FIFTY_MB, "image/jpeg")})
    assert response.status_code == 413
    assert "too large" in response.json()["error"]["message"]
    assert recording_uploads == []
    assert _upload_temp_files() == []


def test_upload_just_over_the_limit_is_refused_after_reading(
    client: Client, nothing_written, settings, tmp_path
) -> None:
    """Under the Content-Length allowance but over the photo limit: refused by size (400);
    the temporary upload file Django made for it is gone afterwards."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    data = b"\xff" * (settings.VISUALSEARCH_MAX_UPLOAD_BYTES + 10)
    response = _post_api(client, "big.jpg", data, "image/jpeg")
    assert response.status_code == 400
    assert "too large" in response.json()["error"]["message"]
    page = _post_page(client, "big.jpg", data, "image/jpeg")
    assert page.status_code == 400
    assert "too large" in page.content.decode()
    assert _upload_temp_files() == []


def test_api_without_a_file_or_with_the_wrong_method(client: Client, nothing_written) -> None:
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
def test_malformed_multipart_body(catalogue, nothing_written, boundary: str) -> None:
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
def test_k_is_validated_and_capped(client: Client, catalogue, k: str, status: int, words: str) -> None:
    product = catalogue[0]
    response = client.get(f"/api/products/{product.pk}/similar", {"k": k})
    assert response.status_code == status, response.content[:1000]
    if status == 400:
        assert words in response.json()["error"]["message"]
    else:
        assert len(response.json()["results"]) == min(settings.VISUALSEARCH_MAX_K, len(catalogue) - 1)
    photo = encoded(_catalogue_photo(), "JPEG")
    response = _post_api(client, "p.jpg", photo, "image/jpeg", query=f"?k={k}")
    assert response.status_code == status, response.content[:1000]
    if status == 200:
        assert len(response.json()["results"]) == min(settings.VISUALSEARCH_MAX_K, len(catalogue))


@pytest.mark.parametrize(
    "url",
    [
        "/products/999999/",
        "/products/999999/similar/",
        "/api/products/999999/similar",
        "/products/abc/",
        "/products/abc/similar/",
        "/api/products/abc/similar",
        "/products/-1/",
        "/products/99999999999999999999999/",
        "/api/products/99999999999999999999999/similar",
    ],
)
def test_unknown_or_non_numeric_product_ids_are_404(client: Client, catalogue, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    if url.startswith("/api/"):  # the API answers JSON, also for paths no route matches
        message = response.json()["error"]["message"]
        assert ("No active product" if url.split("/")[3].isdigit() else "Not found") in message
    else:
        assert "couldn’t find that page" in response.content.decode()


def test_inactive_product_is_404(client: Client, catalogue) -> None:
    product = catalogue[0]
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert client.get(f"/products/{product.pk}/").status_code == 404
    assert client.get(f"/products/{product.pk}/similar/").status_code == 404
    assert client.get(f"/api/products/{product.pk}/similar").status_code == 404


def test_unknown_refinement_values(client: Client, catalogue, nothing_written) -> None:
    photo = encoded(_catalogue_photo(), "JPEG")
    page = _post_page(client, "p.jpg", photo, "image/jpeg", gender="Martian")
    assert page.status_code == 400
    assert "Select a valid choice" in page.content.decode()
    page = _post_page(client, "p.jpg", photo, "image/jpeg", colour=SCRIPT)  # the value is quoted back: escaped
    assert page.status_code == 400
    _assert_not_echoed(page.content.decode())
    assert "&lt;script&gt;" in page.content.decode()
    api = _post_api(client, "p.jpg", photo, "image/jpeg", gender="Martian", colour="Ultraviolet")
    assert api.status_code == 200
    assert api.json()["results"] == []
    assert api.json()["filters"] == {"gender": "Martian", "base_colour": "Ultraviolet"}
    similar = client.get(f"/products/{catalogue[0].pk}/similar/", {"same_gender": "Martian", "bogus": "1"})
    assert similar.status_code == 200
    api = client.get(f"/api/products/{catalogue[0].pk}/similar", {"same_colour": "yes", "colour": "Martian"})
    assert api.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"gender": "Martian"},
        {"page": "abc"},
        {"page": "-5"},
        {"page": "99999999999999999999"},
        {"sort": "bogus"},
        {"q": "(.*[unclosed"},
        {"q": "x" * 5000},
        {"q": "a\x00b"},
        {"gender": "Men\x00"},
        {"sort": "\x00"},
    ],
    ids=lambda q: repr(q)[:40],
)
def test_catalogue_query_strings(client: Client, catalogue, query: dict[str, str]) -> None:
    response = client.get("/", query)
    assert response.status_code == 200


def test_catalogue_search_text_is_escaped(client: Client, catalogue) -> None:
    response = client.get("/", {"q": SCRIPT})
    assert response.status_code == 200
    body = response.content.decode()
    _assert_not_echoed(body)
    assert "&lt;script&gt;" in body


def test_nul_characters_in_photo_filters(client: Client, catalogue, nothing_written) -> None:
    photo = encoded(_catalogue_photo(), "JPEG")
    assert _post_page(client, "p.jpg", photo, "image/jpeg", gender="Men\x00").status_code == 400
    assert _post_api(client, "p.jpg", photo, "image/jpeg", gender="Men\x00").status_code == 200
    assert client.get(PAGE, {"gender": "\x00"}).status_code == 200


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("staffer", "staff@example.com", "x-secret-123")


def test_photo_search_form_without_csrf_token_is_refused(catalogue, nothing_written) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get(PAGE)  # has the CSRF cookie, but the form is posted without the token
    response = browser.post(PAGE, {"image": SimpleUploadedFile("p.jpg", _one_pixel(), "image/png")})
    assert response.status_code == 403
    no_cookie = Client(enforce_csrf_checks=True).post(
        PAGE, {"image": SimpleUploadedFile("p.jpg", _one_pixel(), "image/png")}
    )
    assert no_cookie.status_code == 403


def test_photo_search_form_with_csrf_token_works(catalogue, nothing_written) -> None:
    browser = Client(enforce_csrf_checks=True)
    token = str(browser.get(PAGE).context["csrf_token"])
    response = browser.post(
        PAGE, {"csrfmiddlewaretoken": token, "image": SimpleUploadedFile("p.jpg", _one_pixel(), "image/png")}
    )
    assert response.status_code == 200
    assert len(response.context["result"].results) == 5


def test_admin_reindex_start_without_csrf_token_is_refused(catalogue, staff) -> None:
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
def test_reindex_and_admin_views_refuse_non_staff(client: Client, catalogue, django_user_model, who: str) -> None:
    job = ReindexJob.objects.create(mode="all", state=ReindexJob.State.DONE)
    if who == "shopper":
        client.force_login(django_user_model.objects.create_user("shopper", password="x-secret-123"))
    for method, url in _admin_urls(job):
        response = getattr(client, method)(url, {"mode": "all"} if method == "post" else {})
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/admin/login/"), url
    assert list(ReindexJob.objects.values_list("pk", "state")) == [(job.pk, ReindexJob.State.DONE)]
    assert not ProductEmbedding.objects.filter(status=EmbeddingStatus.PENDING).exists()


def test_staff_without_the_reindex_permission_cannot_start_one(client: Client, catalogue, django_user_model) -> None:
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", password="x-secret-123", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_reindexjob"))
    client.force_login(clerk)
    response = client.post(reverse("admin:visualsearch_reindex_start"), {"mode": "all"}, follow=True)
    assert response.status_code == 200
    assert "You do not have permission to run a reindex." in response.content.decode()
    assert not ReindexJob.objects.exists()


def test_reindex_views_need_post_and_a_known_mode(client: Client, catalogue, staff) -> None:
    client.force_login(staff)
    assert client.get(reverse("admin:visualsearch_reindex_start")).status_code == 405
    response = client.post(reverse("admin:visualsearch_reindex_start"), {"mode": "everything!"}, follow=True)
    assert response.status_code == 200
    assert "Unknown reindex mode." in response.content.decode()
    assert not ReindexJob.objects.exists()
    assert client.post(reverse("admin:visualsearch_reindex_cancel", args=[999999])).status_code == 404
