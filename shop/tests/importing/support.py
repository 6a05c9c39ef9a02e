"""Helpers of the import tests: a CSV in the import's columns, a zip of images, and their
upload through the admin's import form."""

from __future__ import annotations

import csv
import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from shop.importing.catalogue import CSV_COLUMNS
from tests.support.catalogue import catalogue_rows

UPLOAD = "admin:shop_importjob_upload"


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def zip_bytes(files: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def upload(client: Client, csv_data: bytes, zip_data: bytes | None, **extra: object):
    data: dict[str, object] = {"csv_file": SimpleUploadedFile("new products.csv", csv_data, "text/csv")}
    if zip_data is not None:
        data["images_zip"] = SimpleUploadedFile("photos.zip", zip_data, "application/zip")
    data.update(extra)  # compute_embeddings unticked: no model in these tests
    return client.post(reverse(UPLOAD), data)


def csv_rows() -> list[dict[str, str]]:
    return [{column: row[column] for column in CSV_COLUMNS} for row in catalogue_rows(6)]
