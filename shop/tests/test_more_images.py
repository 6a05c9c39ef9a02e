"""Several photos per product on the shop's side: the admin's inline (upload with the staff
image checks, thumbnails, order, make main, delete), the import's ``images`` column, and the
product page's gallery (thumbnails, alt texts; one photo: no gallery controls). Visual search's
side: visualsearch/tests/test_more_images.py; the page in a browser: test_gallery_browser.py."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from shop.importing.catalogue import catalogue_import
from shop.models import Product, ProductImage
from shop.signals import product_images_changed, products_changed
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.images import image_bytes
from tests.support.products import admin_product_form

pytestmark = pytest.mark.django_db

BLUE, GREEN = (30, 60, 200), (40, 160, 60)


@pytest.fixture
def announced() -> list[tuple[str, list[int]]]:
    """What the shop announced: (signal, product ids)."""
    sent: list[tuple[str, list[int]]] = []

    def on_changed(sender: object, product_ids: list[int], **kwargs: object) -> None:
        sent.append(("changed", list(product_ids)))

    def on_images(sender: object, product_ids: list[int], **kwargs: object) -> None:
        sent.append(("images", list(product_ids)))

    products_changed.connect(on_changed, dispatch_uid="test-more-images-changed")
    product_images_changed.connect(on_images, dispatch_uid="test-more-images-images")
    yield sent
    products_changed.disconnect(dispatch_uid="test-more-images-changed")
    product_images_changed.disconnect(dispatch_uid="test-more-images-images")


def more_image(product: Product, colour: tuple[int, int, int], position: int, alt: str = "") -> ProductImage:
    image = ProductImage(product=product, position=position, alt_text=alt)
    image.image.save(f"more-{position}.jpg", ContentFile(image_bytes(colour=colour, size=(600, 800))), save=False)
    image.save()
    return image


def inline_form(product: Product, images: list[ProductImage], **extra: object) -> dict[str, object]:
    """The product's change form as the admin posts it, with its more images inline."""
    data = admin_product_form(
        "",
        name=product.name,
        **{
            "images-TOTAL_FORMS": str(len(images)),
            "images-INITIAL_FORMS": str(len(images)),
        },
    )
    del data["image"]  # unchanged main image
    for i, image in enumerate(images):
        data.update(
            {
                f"images-{i}-id": str(image.pk),
                f"images-{i}-product": str(product.pk),
                f"images-{i}-alt_text": image.alt_text,
                f"images-{i}-position": str(image.position),
            }
        )
    data.update(extra)
    return data


# --- The admin ---------------------------------------------------------------------------------


def test_staff_add_more_images_inline_with_thumbnails(admin_client: Client, make_product, announced) -> None:
    product = make_product()
    page = admin_client.get(reverse("admin:shop_product_change", args=[product.pk])).content.decode()
    assert "images-TOTAL_FORMS" in page and "More photos" in page and "Make main" in page

    upload = SimpleUploadedFile("back.jpg", image_bytes(colour=BLUE, size=(600, 800)), content_type="image/jpeg")
    data = inline_form(product, [], **{"images-TOTAL_FORMS": "1", "images-0-image": upload})
    data.update({"images-0-alt_text": "Back view", "images-0-position": "1"})
    response = admin_client.post(reverse("admin:shop_product_change", args=[product.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]

    image = ProductImage.objects.get(product=product)
    assert image.alt_text == "Back view" and len(image.image_checksum) == 64
    assert image.thumbnail.name and default_storage.exists(image.thumbnail.name)  # 600×800: a thumbnail
    assert ("images", [product.pk]) in announced  # embedded like the main image

    page = admin_client.get(reverse("admin:shop_product_change", args=[product.pk])).content.decode()
    assert image.thumbnail.url in page  # the inline's preview


def test_the_inline_refuses_an_image_past_the_staff_limit_with_a_message(
    admin_client: Client, make_product, settings
) -> None:
    """The same checks as the main image (``SHOP_IMAGE_MAX_DECODED_PIXELS``, decodable)."""
    settings.SHOP_IMAGE_MAX_DECODED_PIXELS = 1_000_000
    product = make_product()
    buffer = io.BytesIO()
    Image.new("RGB", (1100, 1000), (200, 30, 30)).save(buffer, format="WEBP", lossless=True)
    url = reverse("admin:shop_product_change", args=[product.pk])
    for name, data, message in (
        ("big.webp", buffer.getvalue(), "The image is too large (1100×1000 pixels)"),
        ("notes.jpg", b"just some text", "Upload a valid image"),
    ):
        upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
        response = admin_client.post(
            url, inline_form(product, [], **{"images-TOTAL_FORMS": "1", "images-0-image": upload})
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not ProductImage.objects.exists()


def test_make_main_swaps_the_images_and_delete_removes_one(admin_client: Client, make_product, announced) -> None:
    product = make_product()
    main = (product.image.name, product.image_checksum)
    back, detail = more_image(product, BLUE, 1, "Back"), more_image(product, GREEN, 2, "Detail")
    back_file = back.image.name
    url = reverse("admin:shop_product_change", args=[product.pk])

    response = admin_client.post(url, inline_form(product, [back, detail], **{"images-0-make_main": "on"}))
    assert response.status_code == 302
    product.refresh_from_db()
    back.refresh_from_db()
    assert product.image.name == back_file  # the back view is the main image now
    assert back.image.name == main[0]  # …and the former main image took its place in the gallery
    assert ("images", [product.pk]) in announced

    announced.clear()
    data = inline_form(product, [back, detail], **{"images-1-DELETE": "on"})
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert list(ProductImage.objects.filter(product=product)) == [back]
    assert ("changed", [product.pk]) in announced


# --- The import -------------------------------------------------------------------------------------


def catalogue_with_images(tmp_path: Path, cells: list[str]) -> tuple[Path, list[dict[str, str]]]:
    rows = [dict(row, images=cell) for row, cell in zip(catalogue_rows(len(cells)), cells, strict=True)]
    folder = write_catalogue(tmp_path / "catalogue", rows)
    for name in {n for cell in cells for n in cell.split(";") if n}:
        (folder / "images" / name).write_bytes(image_bytes(colour=BLUE if "back" in name else GREEN))
    return folder, rows


def test_import_adds_more_images_from_the_images_column(
    tmp_path: Path, announced, django_capture_on_commit_callbacks
) -> None:
    folder, rows = catalogue_with_images(tmp_path, ["a-back.jpg;a-detail.jpg", "", "c-back.jpg"])
    result = catalogue_import(folder)
    assert (result.created, result.skipped) == (3, 0)
    first = Product.objects.get(external_id=rows[0]["id"])
    assert [(i.position, i.image_checksum != "") for i in first.images.all()] == [(1, True), (2, True)]
    assert Product.objects.get(external_id=rows[1]["id"]).images.count() == 0
    with first.images.first().image.open("rb") as handle:  # type: ignore[union-attr]
        assert handle.read() == (folder / "images" / "a-back.jpg").read_bytes()
    assert any(kind == "images" and first.pk in ids for kind, ids in announced)

    # Again: nothing changed. Then a changed list replaces them; an empty cell removes them.
    assert catalogue_import(folder).unchanged == 3
    old_files = [i.image.name for i in first.images.all()]
    announced.clear()
    with (folder / "styles.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    table[0]["images"] = "c-back.jpg"
    table[2]["images"] = ""
    with (folder / "styles.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    with django_capture_on_commit_callbacks(execute=True):
        result = catalogue_import(folder)
    assert (result.updated, result.unchanged) == (2, 1)
    assert [i.image_checksum for i in first.images.all()] == [
        hashlib.sha256((folder / "images" / "c-back.jpg").read_bytes()).hexdigest()
    ]
    assert Product.objects.get(external_id=rows[2]["id"]).images.count() == 0
    assert any(kind == "images" and first.pk in ids for kind, ids in announced)
    assert not any(default_storage.exists(name) for name in old_files)  # replaced files removed


def test_import_without_the_column_leaves_more_images_alone(tmp_path: Path) -> None:
    folder, rows = catalogue_with_images(tmp_path, ["a-back.jpg"])
    catalogue_import(folder)
    plain = write_catalogue(tmp_path / "plain", [{k: v for k, v in rows[0].items() if k != "images"}])
    assert catalogue_import(plain).unchanged == 1
    assert ProductImage.objects.count() == 1


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("missing.jpg", "image (images column) missing.jpg is missing"),
        ("../secret.jpg", "is not a file name in the images folder"),
        ("a.jpg;a.jpg", "a file is named twice"),
    ],
)
def test_import_skips_a_row_whose_more_images_are_unusable(tmp_path: Path, cell: str, reason: str) -> None:
    folder, _rows = catalogue_with_images(tmp_path, ["ok-back.jpg", "x.jpg"])
    with (folder / "styles.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    table[1]["images"] = cell
    (folder / "images" / "a.jpg").write_bytes(image_bytes())
    with (folder / "styles.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    result = catalogue_import(folder)
    assert (result.created, result.skipped) == (1, 1)
    assert reason in result.skip_reasons[0]


# --- The product page ---------------------------------------------------------------------------------


def test_product_page_shows_the_gallery_with_alt_texts(client: Client, make_product) -> None:
    product = make_product(name="Striped Shirt")
    more_image(product, BLUE, 2, "Back view")
    more_image(product, GREEN, 1)
    page = client.get(product.get_absolute_url()).content.decode()
    assert page.count('class="gallery-slide"') == 3
    assert page.count('class="gallery-thumb"') == 3
    alts = re.findall(r'<img src="[^"]+"\s+alt="([^"]*)"', page)
    # Main image first, then the more images in their order; one without a description is numbered.
    assert alts[:3] == ["Striped Shirt", "Striped Shirt, photo 2", "Back view"]
    assert "1 / 3" in page and "gallery.js" in page


def test_product_page_with_one_photo_has_no_gallery_controls(client: Client, make_product) -> None:
    product = make_product()
    page = client.get(product.get_absolute_url()).content.decode()
    assert page.count('class="gallery-slide"') == 1
    assert "gallery-thumbs" not in page and 'tabindex="0"' not in page
