"""The checks of an import's uploads: unsafe zips (names outside their folder, links,
duplicates, zip bombs, sizes past the limits) and CSVs without the import's columns are
refused before any job exists; extraction stops at the limits whatever the headers say."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client

from shop.importing import uploads
from shop.models import ImportJob
from shop.tests.importing.support import csv_bytes, csv_rows, upload, zip_bytes


def _zip_with_raw_name(name: str, data: bytes = b"x") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name), data)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["../1163.jpg", "images/../../1163.jpg", "/etc/1163.jpg", "..\\\\1163.jpg", "C:/x/1163.jpg"],
)
def test_a_zip_with_names_outside_its_folder_is_refused(admin_client: Client, name: str, tmp_path) -> None:
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), _zip_with_raw_name(name))
    assert response.status_code == 200
    assert "refused" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not list(tmp_path.parent.glob("1163.jpg"))


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_from_its_directory(admin_client: Client) -> None:
    bomb = zip_bytes({"1163.jpg": b"\0" * (8 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), bomb)
    content = response.content.decode()
    assert response.status_code == 200 and "zip bomb" in content
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_zip_size_limits(admin_client: Client, settings) -> None:
    settings.SHOP_IMPORT_MAX_IMAGE_BYTES = 1000
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), zip_bytes({"1163.jpg": b"x" * 2000}))
    assert "the limit is" in response.content.decode() and not ImportJob.objects.exists()
    settings.SHOP_IMPORT_MAX_IMAGE_BYTES = 10_000
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 3000
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), zip_bytes({"1.jpg": b"x" * 2000, "2.jpg": b"y" * 2000}))
    assert "uncompressed: refused" in response.content.decode() and not ImportJob.objects.exists()
    settings.SHOP_IMPORT_MAX_ZIP_MEMBERS = 2
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), zip_bytes({f"{i}.jpg": b"x" for i in range(3)}))
    assert "the limit is 2" in response.content.decode() and not ImportJob.objects.exists()


def test_extraction_stops_at_the_limits_whatever_the_headers_say(tmp_path, settings) -> None:
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 3000
    archive = io.BytesIO(zip_bytes({"1.jpg": b"x" * 2000, "2.jpg": b"y" * 2000}))
    with pytest.raises(uploads.ImportRefused):
        uploads.import_zip_extract(archive, tmp_path / "images")
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 10_000
    archive = io.BytesIO(zip_bytes({"a/1.jpg": b"x" * 2000, "b/2.jpg": b"y" * 2000, "c/readme.md": b"z"}))
    assert uploads.import_zip_extract(archive, tmp_path / "images") == 2
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["1.jpg", "2.jpg"]


def test_symlinks_and_duplicate_names_are_refused() -> None:
    link = zipfile.ZipInfo("1.jpg")
    link.external_attr = 0o120777 << 16
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(uploads.ImportRefused, match="symbolic link"):
        uploads.import_zip_check(io.BytesIO(out.getvalue()))
    with pytest.raises(uploads.ImportRefused, match="Two files"):
        uploads.import_zip_check(io.BytesIO(zip_bytes({"a/1.jpg": b"x", "b/1.jpg": b"y"})))


@pytest.mark.django_db
def test_a_csv_without_the_columns_or_a_non_zip_is_refused(admin_client: Client) -> None:
    response = upload(admin_client, b"name,colour\nShirt,Red\n", None)
    assert "The CSV lacks the columns id, gender" in response.content.decode()
    response = upload(admin_client, csv_bytes(csv_rows()[:1]), b"PK\x03\x04 not really")
    assert "not a zip we can read" in response.content.decode()
    assert not ImportJob.objects.exists()
