"""Bulk import from the admin: a CSV (the import's columns) and a zip of images run as an
ImportJob through the same ``catalogue_import``, in the process's background thread without a
broker (Celery with one); per-row errors and progress on the job's page; unsafe zips refused.

Transactional where the job runs: the background thread has its own database connection."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.background import background_wait_idle
from shop import services
from shop.catalogue_import import CSV_COLUMNS
from shop.models import ImportJob, Product
from tests.support.catalogue import catalogue_photo, catalogue_rows

UPLOAD = "admin:shop_importjob_upload"


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _zip(files: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _upload(client: Client, csv_bytes: bytes, zip_bytes: bytes | None, **extra: object):
    data: dict[str, object] = {"csv_file": SimpleUploadedFile("new products.csv", csv_bytes, "text/csv")}
    if zip_bytes is not None:
        data["images_zip"] = SimpleUploadedFile("photos.zip", zip_bytes, "application/zip")
    data.update(extra)  # compute_embeddings unticked: no model in these tests
    return client.post(reverse(UPLOAD), data)


@pytest.fixture
def no_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default
    yield
    assert background_wait_idle(60), "the import job did not finish"


def _rows() -> list[dict[str, str]]:
    return [{column: row[column] for column in CSV_COLUMNS} for row in catalogue_rows(6)]


@pytest.mark.django_db(transaction=True)
def test_csv_and_zip_with_good_and_bad_rows(admin_client: Client, no_broker) -> None:
    rows = _rows()
    good, no_photo, bad_year, no_gender, bad_photo, lower = rows
    bad_year["year"] = "last year"
    no_gender["gender"] = ""
    lower["gender"] = f"  {good['gender'].lower()} "  # "men " → the catalogue's "Men"
    lower["baseColour"] = "  " + "   ".join(good["baseColour"].split()) + " "
    files = {f"shoot/images/{row['id']}.jpg": catalogue_photo(row) for row in (good, bad_year, no_gender, lower)}
    files[f"shoot/images/{bad_photo['id']}.jpg"] = b"not a photo at all"
    files["shoot/notes.txt"] = b"ignored"
    files[f"__MACOSX/shoot/images/._{good['id']}.jpg"] = b"resource fork"

    response = _upload(admin_client, _csv(rows), _zip(files))

    assert response.status_code == 302, response.content.decode()[:3000]
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("admin:shop_importjob_progress", args=[job.pk])
    assert background_wait_idle(60)
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE, job.message
    assert (job.total, job.processed) == (6, 6)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.skipped_count) == (2, 0, 0, 4)
    reasons = {error["id"]: error["reason"] for error in job.errors}
    assert reasons == {
        no_photo["id"]: f"image {no_photo['id']}.jpg is missing",
        bad_year["id"]: "year 'last year' is not a number",
        no_gender["id"]: "empty gender",
        bad_photo["id"]: reasons[bad_photo["id"]],
    }
    assert reasons[bad_photo["id"]].startswith(f"image {bad_photo['id']}.jpg is unusable")
    assert sorted(error["line"] for error in job.errors) == [3, 4, 5, 6]
    imported = {p.external_id: p for p in Product.objects.all()}
    assert set(imported) == {good["id"], lower["id"]}
    assert imported[lower["id"]].gender == good["gender"]  # one spelling per value
    assert imported[lower["id"]].base_colour == good["baseColour"]
    # The uploads are gone once the job ran; the products keep their own images.
    assert not job.csv_file and not job.images_zip

    page = admin_client.get(response["Location"]).content.decode()
    assert "data-autorefresh" not in page and 'role="progressbar"' in page
    assert 'data-count="created">2<' in page and 'data-count="skipped">4<' in page
    assert f"image {no_photo['id']}.jpg is missing" in page and "empty gender" in page

    # The same files again: nothing new, the same reasons.
    _upload(admin_client, _csv(rows), _zip(files))
    assert background_wait_idle(60)
    again = ImportJob.objects.order_by("-pk").first()
    assert (again.created_count, again.unchanged_count, again.skipped_count) == (0, 2, 4)


@pytest.mark.django_db(transaction=True)
def test_progress_page_refreshes_while_the_job_runs(admin_client: Client, no_broker, monkeypatch) -> None:
    import threading

    from shop import catalogue_import

    go = threading.Event()
    real = catalogue_import.catalogue_import

    def gated(*args, **kwargs):
        assert go.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(catalogue_import, "catalogue_import", gated)
    rows = _rows()[:2]
    response = _upload(admin_client, _csv(rows), _zip({f"{r['id']}.jpg": catalogue_photo(r) for r in rows}))
    job = ImportJob.objects.get()
    assert job.state in (ImportJob.State.PENDING, ImportJob.State.RUNNING)  # the request did not wait
    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-autorefresh="3"' in page and "js/autorefresh.js" in page
    go.set()
    assert background_wait_idle(60)
    job.refresh_from_db()
    assert (job.state, job.created_count) == (ImportJob.State.DONE, 2)


@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_job_is_recorded_on_it(admin_client: Client, no_broker, monkeypatch) -> None:
    from shop import catalogue_import

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(catalogue_import, "catalogue_import", broken)
    _upload(admin_client, _csv(_rows()[:1]), None)
    assert background_wait_idle(60)
    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.FAILED
    assert job.message == "The import failed: RuntimeError: disk on fire"
    page = admin_client.get(reverse("admin:shop_importjob_progress", args=[job.pk])).content.decode()
    assert "disk on fire" in page


@pytest.mark.django_db
def test_with_a_broker_the_job_goes_to_celery(
    admin_client: Client, settings, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from shop import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.import_job_run_task, "delay", sent.append)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        _upload(admin_client, _csv(_rows()[:1]), None)
    job = ImportJob.objects.get()
    assert sent == [job.pk] and job.state == ImportJob.State.PENDING
    assert background_wait_idle(1)


# --- Unsafe zips are refused before any job exists ------------------------------------------


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
    response = _upload(admin_client, _csv(_rows()[:1]), _zip_with_raw_name(name))
    assert response.status_code == 200
    assert "refused" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not list(tmp_path.parent.glob("1163.jpg"))


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_from_its_directory(admin_client: Client) -> None:
    bomb = _zip({"1163.jpg": b"\0" * (8 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    response = _upload(admin_client, _csv(_rows()[:1]), bomb)
    content = response.content.decode()
    assert response.status_code == 200 and "zip bomb" in content
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_zip_size_limits(admin_client: Client, settings) -> None:
    settings.SHOP_IMPORT_MAX_IMAGE_BYTES = 1000
    response = _upload(admin_client, _csv(_rows()[:1]), _zip({"1163.jpg": b"x" * 2000}))
    assert "the limit is" in response.content.decode() and not ImportJob.objects.exists()
    settings.SHOP_IMPORT_MAX_IMAGE_BYTES = 10_000
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 3000
    response = _upload(admin_client, _csv(_rows()[:1]), _zip({"1.jpg": b"x" * 2000, "2.jpg": b"y" * 2000}))
    assert "uncompressed: refused" in response.content.decode() and not ImportJob.objects.exists()
    settings.SHOP_IMPORT_MAX_ZIP_MEMBERS = 2
    response = _upload(admin_client, _csv(_rows()[:1]), _zip({f"{i}.jpg": b"x" for i in range(3)}))
    assert "the limit is 2" in response.content.decode() and not ImportJob.objects.exists()


def test_extraction_stops_at_the_limits_whatever_the_headers_say(tmp_path, settings) -> None:
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 3000
    archive = io.BytesIO(_zip({"1.jpg": b"x" * 2000, "2.jpg": b"y" * 2000}))
    with pytest.raises(services.ImportRefused):
        services.import_zip_extract(archive, tmp_path / "images")
    settings.SHOP_IMPORT_MAX_UNZIPPED_BYTES = 10_000
    archive = io.BytesIO(_zip({"a/1.jpg": b"x" * 2000, "b/2.jpg": b"y" * 2000, "c/readme.md": b"z"}))
    assert services.import_zip_extract(archive, tmp_path / "images") == 2
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["1.jpg", "2.jpg"]


def test_symlinks_and_duplicate_names_are_refused() -> None:
    link = zipfile.ZipInfo("1.jpg")
    link.external_attr = 0o120777 << 16
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(services.ImportRefused, match="symbolic link"):
        services.import_zip_check(io.BytesIO(out.getvalue()))
    with pytest.raises(services.ImportRefused, match="Two files"):
        services.import_zip_check(io.BytesIO(_zip({"a/1.jpg": b"x", "b/1.jpg": b"y"})))


@pytest.mark.django_db
def test_a_csv_without_the_columns_or_a_non_zip_is_refused(admin_client: Client) -> None:
    response = _upload(admin_client, b"name,colour\nShirt,Red\n", None)
    assert "The CSV lacks the columns id, gender" in response.content.decode()
    response = _upload(admin_client, _csv(_rows()[:1]), b"PK\x03\x04 not really")
    assert "not a zip we can read" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_import_pages_are_staff_only(client: Client, django_user_model) -> None:
    for url in (reverse(UPLOAD), reverse("admin:shop_importjob_changelist")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_the_import_list_links_to_the_upload(admin_client: Client) -> None:
    content = admin_client.get(reverse("admin:shop_importjob_changelist")).content.decode()
    assert reverse(UPLOAD) in content
    assert admin_client.get(reverse("admin:shop_importjob_add"))["Location"] == reverse(UPLOAD)
    assert admin_client.get(reverse(UPLOAD)).status_code == 200
