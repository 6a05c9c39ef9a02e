"""The visual search pages: "find similar" and search by photo, on real catalogue photos: on
random vectors where no photo is embedded, with the real model where one is (slow).
The table of unusual and bad uploads runs against this page and the API in
visualsearch/tests/test_bad_input.py."""

from __future__ import annotations

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
from tests.support.catalogue import embedded_catalogue, stored_catalogue
from tests.support.images import (
    animated_gif,
    decoded,
    encoded,
    exif_rotated_jpeg,
)
from tests.support.uploads import a_photo, form_errors, preview_size, rgba_png, truncated_photo

pytestmark = pytest.mark.django_db

PHOTO_PAGE = "/search/photo/"
CARD_ID = re.compile(r'<article class="card" data-product-id="(\d+)">')


# --- Catalogue ------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(db) -> list[Product]:
    """12 real catalogue products on random unit vectors: the index works without the model
    (find similar, the form, refusals before a photo is embedded)."""
    return stored_catalogue(12)


@pytest.fixture
def embedded(make_product: Callable[..., Product]) -> list[Product]:
    """12 real catalogue products, embedded with the real model (photo searches; slow)."""
    return embedded_catalogue(make_product, 12)


def result_ids(html: str) -> list[int]:
    """Product ids of the result cards, in page order (the results section only)."""
    section = html.split('<section class="similar-results">', 1)[1]
    return [int(pk) for pk in CARD_ID.findall(section)]


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
    products = stored_catalogue(30)
    product = next(p for p in products if sum(o.article_type == p.article_type for o in products) >= 2)
    url = f"/products/{product.pk}/similar/"
    html = client.get(url).content.decode()
    for key in ("same_gender", "same_master", "same_sub", "same_type", "same_colour"):
        assert re.search(rf'name="{key}" value="1"\s*>', html), key  # offered, unchecked
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


def test_photo_search_page_form(client: Client, catalogue: list[Product]) -> None:
    response = client.get(PHOTO_PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert f'<option value="{catalogue[0].article_type}">' in html  # filters offer the indexed values


@pytest.mark.slow
def test_photo_search_with_a_catalogue_photo(client: Client, embedded: list[Product]) -> None:
    product = embedded[3]
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


@pytest.mark.slow
def test_photo_search_with_a_filter(client: Client, embedded: list[Product]) -> None:
    product = embedded[3]
    with product.image.open("rb") as handle:
        data = handle.read()
    response = post_photo(client, data, gender=product.gender)
    assert response.status_code == 200
    ids = result_ids(response.content.decode())
    assert ids and all(Product.objects.get(pk=pk).gender == product.gender for pk in ids)


def product_image(product: Product) -> Image.Image:
    with product.image.open("rb") as handle:
        return decoded(handle.read())


@pytest.mark.slow
def test_animated_gif_is_searched_by_its_first_frame(client: Client, embedded: list[Product]) -> None:
    first, second = embedded[2], embedded[7]
    response = post_photo(client, animated_gif(product_image(first), product_image(second)), "animated.gif")
    assert response.status_code == 200
    top = response.context["result"].results[0]
    assert top.product.pk == first.pk and top.score > 0.9
    assert second.pk not in result_ids(response.content.decode())[:1]


@pytest.mark.slow
def test_exif_rotation_is_applied_before_searching(client: Client, embedded: list[Product]) -> None:
    product = embedded[5]
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


def test_over_size_upload_is_refused(client: Client, catalogue: list[Product], settings) -> None:
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 1000
    big = encoded(a_photo(), "JPEG", quality=95)
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
    response = post_photo(client, encoded(a_photo(), "JPEG"), colour="Ultraviolet")
    assert response.status_code == 400
    assert "valid choice" in form_errors(response.content.decode())


def media_files() -> dict[str, int]:
    root = Path(django_settings.MEDIA_ROOT)
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_photo_search_writes_nothing_to_media_root(client: Client, embedded: list[Product], settings) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # uploads above 1 KB go through a temporary file
    before = media_files()
    with embedded[0].image.open("rb") as handle:
        assert post_photo(client, handle.read()).status_code == 200
    assert post_photo(client, rgba_png(), "photo.png").status_code == 200
    assert post_photo(client, truncated_photo()).status_code == 400
    gif = animated_gif(a_photo())
    assert client.post("/api/search/photo", {"image": SimpleUploadedFile("p.gif", gif)}).status_code == 200
    assert media_files() == before
