"""The visual search pages: "find similar" and search by photo, on real catalogue photos and
the real model, with every kind of bad upload a shopper can send."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from shop.models import Product
from tests.support.catalogue import catalogue_photo, embedded_catalogue, rows_with_images
from tests.support.images import (
    animated_gif,
    bomb_png,
    decoded,
    encoded,
    exif_rotated_jpeg,
    sixteen_bit_png,
    truncated_jpeg,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PHOTO_PAGE = "/search/photo/"
CARD_ID = re.compile(r'<article class="card" data-product-id="(\d+)">')


# --- Catalogue ------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(make_product: Callable[..., Product]) -> list[Product]:
    """12 real catalogue products, embedded with the real model."""
    return embedded_catalogue(make_product, 12)


def result_ids(html: str) -> list[int]:
    """Product ids of the result cards, in page order (the results section only)."""
    section = html.split('<section class="similar-results">', 1)[1]
    return [int(pk) for pk in CARD_ID.findall(section)]


def form_errors(html: str) -> str:
    return " ".join(re.findall(r'<div class="form-error" role="alert">(.*?)</div>', html, re.S))


# --- Find similar -------------------------------------------------------------------------------


def test_find_similar_page_shows_five_cards_with_the_right_links(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[0]
    response = client.get(reverse("visualsearch:similar", args=[product.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    ids = result_ids(html)
    assert len(ids) == 5
    assert product.pk not in ids
    assert ids == [item.product.pk for item in response.context["result"].results]
    for pk in ids:
        other = Product.objects.get(pk=pk)
        assert f'href="{other.get_absolute_url()}"' in html
        assert f'href="{reverse("visualsearch:similar", args=[pk])}"' in html
        assert escape(other.name) in html
    assert "The 5 most similar products" in html


def test_find_similar_page_for_every_product_never_shows_itself(client: Client, catalogue: list[Product]) -> None:
    for product in catalogue:
        ids = result_ids(client.get(f"/products/{product.pk}/similar/").content.decode())
        assert len(ids) == 5 and product.pk not in ids


def test_product_still_being_analysed(
    client: Client, catalogue: list[Product], make_product: Callable[..., Product]
) -> None:
    pending = make_product()  # saved, its embedding not computed yet
    response = client.get(f"/products/{pending.pk}/similar/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "still being analysed" in html
    assert result_ids(html) == []


def test_empty_index_says_so(client: Client, make_product: Callable[..., Product]) -> None:
    product = make_product()
    response = client.get(f"/products/{product.pk}/similar/")
    assert response.status_code == 200
    assert "no analysed products yet" in response.content.decode()
    assert result_ids(response.content.decode()) == []


def test_refinement_checkboxes(client: Client, make_product: Callable[..., Product]) -> None:
    products = embedded_catalogue(make_product, 30)
    product = next(p for p in products if sum(o.article_type == p.article_type for o in products) >= 2)
    url = f"/products/{product.pk}/similar/"
    html = client.get(url).content.decode()
    for key in ("same_gender", "same_master", "same_sub", "same_type", "same_colour"):
        assert re.search(rf'name="{key}" value="1"\s+onchange', html), key  # offered, unchecked
    for key, field in (("same_type", "article_type"), ("same_gender", "gender"), ("same_sub", "sub_category")):
        refined = client.get(url, {key: "1"})
        html = refined.content.decode()
        assert re.search(rf'name="{key}" value="1" checked', html)
        ids = result_ids(html)
        wanted = getattr(product, field)
        eligible = sum(getattr(p, field) == wanted for p in products) - 1
        assert len(ids) == min(5, eligible)
        assert product.pk not in ids
        assert all(getattr(Product.objects.get(pk=pk), field) == wanted for pk in ids)
    both = client.get(url, {"same_type": "1", "same_colour": "1"})
    for pk in result_ids(both.content.decode()):
        other = Product.objects.get(pk=pk)
        assert (other.article_type, other.base_colour) == (product.article_type, product.base_colour)


# --- Photo search: good photos ----------------------------------------------------------------------


def post_photo(client: Client, data: bytes, name: str = "photo.jpg", **fields: str):
    return client.post(PHOTO_PAGE, {"image": SimpleUploadedFile(name, data), **fields})


def preview_size(html: str) -> tuple[int, int]:
    match = re.search(r'<img class="query-photo" src="data:image/jpeg;base64,([^"]+)"', html)
    assert match, "the photo preview is missing"
    return Image.open(io.BytesIO(base64.b64decode(match.group(1)))).size


def test_photo_search_page_form(client: Client, catalogue: list[Product]) -> None:
    response = client.get(PHOTO_PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert f'<option value="{catalogue[0].article_type}">' in html  # filters offer the indexed values


def test_photo_search_with_a_catalogue_photo(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[3]
    with product.image.open("rb") as handle:
        data = handle.read()
    response = post_photo(client, data)
    assert response.status_code == 200
    html = response.content.decode()
    ids = result_ids(html)
    assert len(ids) == 5
    assert ids[0] == product.pk  # the same photo: its own product first
    assert preview_size(html) == (60, 80)
    assert "The 5 products that look most like your photo" in html


def test_photo_search_with_a_filter(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[3]
    with product.image.open("rb") as handle:
        data = handle.read()
    response = post_photo(client, data, gender=product.gender)
    assert response.status_code == 200
    ids = result_ids(response.content.decode())
    assert ids and all(Product.objects.get(pk=pk).gender == product.gender for pk in ids)


def a_catalogue_image() -> Image.Image:
    """A real product photo (60×80) that is not one of the catalogue fixture's products."""
    return decoded(catalogue_photo(rows_with_images(60)[-1]))


def product_image(product: Product) -> Image.Image:
    with product.image.open("rb") as handle:
        return decoded(handle.read())


def rgba_png() -> bytes:
    image = a_catalogue_image().convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    return encoded(image, "PNG")


GOOD_UPLOADS: dict[str, tuple[Callable[[], bytes], str]] = {
    "animated GIF": (lambda: animated_gif(a_catalogue_image()), "photo.gif"),
    "CMYK JPEG": (lambda: encoded(a_catalogue_image().convert("CMYK"), "JPEG"), "photo.jpg"),
    "16-bit PNG": (lambda: sixteen_bit_png(a_catalogue_image()), "photo.png"),
    "RGBA PNG": (rgba_png, "photo.png"),
    "EXIF-rotated JPEG": (lambda: exif_rotated_jpeg(a_catalogue_image()), "photo.jpg"),
    "WebP": (lambda: encoded(a_catalogue_image(), "WEBP"), "photo.webp"),
}


@pytest.mark.parametrize("kind", GOOD_UPLOADS)
def test_photo_search_accepts_unusual_but_valid_photos(client: Client, catalogue: list[Product], kind: str) -> None:
    make, name = GOOD_UPLOADS[kind]
    response = post_photo(client, make(), name)
    html = response.content.decode()
    assert response.status_code == 200, form_errors(html)
    assert len(result_ids(html)) == 5
    assert preview_size(html) == (60, 80)  # upright, whatever the file's orientation


def test_animated_gif_is_searched_by_its_first_frame(client: Client, catalogue: list[Product]) -> None:
    first, second = catalogue[2], catalogue[7]
    response = post_photo(client, animated_gif(product_image(first), product_image(second)), "animated.gif")
    assert response.status_code == 200
    top = response.context["result"].results[0]
    assert top.product.pk == first.pk and top.score > 0.9
    assert second.pk not in result_ids(response.content.decode())[:1]


def test_exif_rotation_is_applied_before_searching(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[5]
    response = post_photo(client, exif_rotated_jpeg(product_image(product)))
    assert response.status_code == 200
    top = response.context["result"].results[0]
    assert top.product.pk == product.pk and top.score > 0.95
    assert preview_size(response.content.decode()) == (60, 80)
    # The same pixels without the EXIF tag are a sideways photo: not the near-perfect match.
    sideways = encoded(product_image(product).transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95)
    unrotated = post_photo(client, sideways).context["result"].results[0]
    assert unrotated.score < top.score - 0.02


# --- Photo search: bad uploads ----------------------------------------------------------------------


def truncated_photo() -> bytes:
    return truncated_jpeg(a_catalogue_image(), (600, 800), quality=95)


BAD_UPLOADS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "zero bytes": (lambda: b"", "photo.jpg", "empty"),
    "text named .jpg": (lambda: b"Just some notes, not a photo.\n" * 20, "photo.jpg", "not an image we can read"),
    "truncated JPEG": (truncated_photo, "photo.jpg", "truncated or corrupt"),
    "decompression bomb": (lambda: bomb_png(white=False), "bomb.png", "too large"),
    "PDF": (lambda: b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "photo.jpg", "not an image"),
}


@pytest.mark.parametrize("kind", BAD_UPLOADS)
def test_bad_uploads_get_a_form_error_never_a_500(client: Client, catalogue: list[Product], kind: str) -> None:
    make, name, words = BAD_UPLOADS[kind]
    response = post_photo(client, make(), name)
    assert response.status_code == 400
    errors = form_errors(response.content.decode())
    assert words in errors, errors
    assert "query-photo" not in response.content.decode()


def test_over_size_upload_is_refused(client: Client, catalogue: list[Product], settings) -> None:
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 1000
    big = encoded(a_catalogue_image(), "JPEG", quality=95)
    assert len(big) > 1000
    response = post_photo(client, big)
    assert response.status_code == 400
    assert "too large" in form_errors(response.content.decode())
    # Far over the limit: refused from the Content-Length, before the body is read.
    huge = np.random.default_rng(0).integers(0, 255, 200_000, dtype=np.uint8).tobytes()
    response = post_photo(client, huge, "huge.jpg")
    assert response.status_code == 413
    assert "too large" in form_errors(response.content.decode())


def test_missing_photo_is_a_form_error(client: Client, catalogue: list[Product]) -> None:
    response = client.post(PHOTO_PAGE, {"gender": ""})
    assert response.status_code == 400
    assert "required" in form_errors(response.content.decode()).lower()


def test_unknown_filter_value_is_a_form_error(client: Client, catalogue: list[Product]) -> None:
    response = post_photo(client, encoded(a_catalogue_image(), "JPEG"), colour="Ultraviolet")
    assert response.status_code == 400
    assert "valid choice" in form_errors(response.content.decode())


def media_files() -> dict[str, int]:
    root = Path(django_settings.MEDIA_ROOT)
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_photo_search_writes_nothing_to_media_root(client: Client, catalogue: list[Product], settings) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # uploads above 1 KB go through a temporary file
    before = media_files()
    with catalogue[0].image.open("rb") as handle:
        assert post_photo(client, handle.read()).status_code == 200
    assert post_photo(client, rgba_png(), "photo.png").status_code == 200
    assert post_photo(client, truncated_photo()).status_code == 400
    gif = animated_gif(a_catalogue_image())
    assert client.post("/api/search/photo", {"image": SimpleUploadedFile("p.gif", gif)}).status_code == 200
    assert media_files() == before
