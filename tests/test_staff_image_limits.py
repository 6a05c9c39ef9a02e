"""Staff uploads and workers decode the cheap way (issue 19, section 5): every image the system
touches (admin upload, import, thumbnail, the embedding worker) is opened with a staff pixel
limit of its own (SHOP_IMAGE_MAX_DECODED_PIXELS) for the formats that can only be decoded at
full size, checked from the header; JPEGs are decoded at a reduced scale up to
MAX_IMAGE_PIXELS. Before, the admin form decoded a 2 KB lossless WebP of 50 MP at full size
(+784 MB). The memory each path costs is measured by ``bench_decode``; here the limit is
lowered so that small files stand for the large ones."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from core.images import ImageRejected
from shop.importing import uploads
from shop.models import ImportJob, Product
from shop.tests.importing.support import csv_bytes, csv_rows, upload, zip_bytes
from shop.thumbnails import image_validate, thumbnail_create
from tests.support.products import admin_product_form

LIMIT = 1_000_000
SIZE = (1100, 1000)  # 1.1 MP: over LIMIT


def _encoded(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", SIZE, (200, 30, 30)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def staff_limit(settings):
    settings.SHOP_IMAGE_MAX_DECODED_PIXELS = LIMIT
    return settings


FULL_SIZE_FORMATS = [("WEBP", {"lossless": True}), ("PNG", {}), ("TIFF", {})]


@pytest.mark.parametrize(("fmt", "options"), FULL_SIZE_FORMATS, ids=[f for f, _ in FULL_SIZE_FORMATS])
def test_full_size_formats_past_the_staff_limit_are_refused_from_the_header(staff_limit, fmt, options) -> None:
    data = _encoded(fmt, **options)
    for decode in (image_validate, lambda d: thumbnail_create("products/x.jpg", d)):
        with pytest.raises(ImageRejected, match="too large"):
            decode(data)


def test_a_larger_jpeg_is_decoded_at_a_reduced_scale(staff_limit) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 2000), (200, 30, 30)).save(buffer, format="JPEG")
    assert image_validate(buffer.getvalue()) == (1200, 1000)  # half scale: still over the thumbnail's draft


@pytest.mark.django_db
def test_the_admin_product_form_refuses_it_with_a_message(staff_limit, admin_client: Client) -> None:
    image = SimpleUploadedFile("big.webp", _encoded("WEBP", lossless=True), content_type="image/webp")
    response = admin_client.post(reverse("admin:shop_product_add"), admin_product_form(image))
    assert response.status_code == 200
    assert "The image is too large (1100×1000 pixels)" in response.content.decode()
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_the_embedding_worker_refuses_it_and_fails_only_that_product(staff_limit, make_product) -> None:
    from visualsearch.services.embeddings import _load_image

    product = make_product(image=_encoded("PNG"))  # stored before the limit existed
    loaded = _load_image(product)
    assert loaded.pixels is None
    assert "The image is too large (1100×1000 pixels)" in loaded.error


@pytest.mark.slow  # a job in the background thread
@pytest.mark.django_db(transaction=True)
def test_an_import_skips_the_row_with_the_reason(staff_limit, admin_client: Client) -> None:
    from core.background import background_wait_idle

    staff_limit.CELERY_TASK_ALWAYS_EAGER = True  # no broker: the job runs in the background thread
    rows = csv_rows()[:1]
    response = upload(admin_client, csv_bytes(rows), zip_bytes({f"{rows[0]['id']}.jpg": _encoded("PNG")}))
    assert response.status_code == 302
    assert background_wait_idle(60)
    job = ImportJob.objects.get()
    assert job.skipped_count == 1 and not Product.objects.exists()
    assert "too large (1100×1000 pixels)" in job.errors[0]["reason"]


@pytest.mark.slow  # 300 MiB compressed and uploaded
@pytest.mark.django_db
def test_a_zip_of_many_members_each_under_the_member_check_is_refused_as_a_whole(admin_client: Client) -> None:
    """300 members of 1 MiB of zeros (about 330 KB zipped, 315 MB extracted): each member is
    under the per-member ratio check; the archive as a whole is a bomb."""
    rows = csv_rows()[:1]
    files = {f"{n}.jpg": b"\0" * (1024 * 1024) for n in range(300)}
    bomb = zip_bytes(files, compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 400_000
    response = upload(admin_client, csv_bytes(rows), bomb)
    content = response.content.decode()
    assert response.status_code == 200 and "zip bomb" in content and "in all" in content
    assert not ImportJob.objects.exists()
    with pytest.raises(uploads.ImportRefused):
        uploads.import_zip_check(io.BytesIO(bomb))


def test_ordinary_photo_zips_pass_the_whole_archive_check() -> None:
    photos = {f"{n}.jpg": _encoded("JPEG") for n in range(30)}
    assert len(uploads.import_zip_check(io.BytesIO(zip_bytes(photos, compression=zipfile.ZIP_DEFLATED)))) == 30
