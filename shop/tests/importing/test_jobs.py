"""Bulk import from the admin: a CSV (the import's columns) and a zip of images run as an
ImportJob through the same ``catalogue_import``, in the process's background thread without a
broker (Celery with one); per-row errors and progress on the job's page; the import pages are
staff's.

Transactional where the job runs: the background thread has its own database connection."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.background import background_wait_idle
from shop.models import ImportJob, Product
from shop.tests.importing.support import UPLOAD, csv_bytes, csv_rows, upload, zip_bytes
from tests.support.catalogue import catalogue_photo


@pytest.mark.django_db(transaction=True)
def test_csv_and_zip_with_good_and_bad_rows(admin_client: Client, no_broker) -> None:
    rows = csv_rows()
    good, no_photo, bad_year, no_gender, bad_photo, lower = rows
    bad_year["year"] = "last year"
    no_gender["gender"] = ""
    lower["gender"] = f"  {good['gender'].lower()} "  # "men " → the catalogue's "Men"
    lower["baseColour"] = "  " + "   ".join(good["baseColour"].split()) + " "
    files = {f"shoot/images/{row['id']}.jpg": catalogue_photo(row) for row in (good, bad_year, no_gender, lower)}
    files[f"shoot/images/{bad_photo['id']}.jpg"] = b"not a photo at all"
    files["shoot/notes.txt"] = b"ignored"
    files[f"__MACOSX/shoot/images/._{good['id']}.jpg"] = b"resource fork"

    response = upload(admin_client, csv_bytes(rows), zip_bytes(files))

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
    upload(admin_client, csv_bytes(rows), zip_bytes(files))
    assert background_wait_idle(60)
    again = ImportJob.objects.order_by("-pk").first()
    assert (again.created_count, again.unchanged_count, again.skipped_count) == (0, 2, 4)


@pytest.mark.django_db(transaction=True)
def test_progress_page_refreshes_while_the_job_runs(admin_client: Client, no_broker, monkeypatch) -> None:
    import threading

    from shop.importing import catalogue

    go = threading.Event()
    real = catalogue.catalogue_import

    def gated(*args, **kwargs):
        assert go.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(catalogue, "catalogue_import", gated)
    rows = csv_rows()[:2]
    response = upload(admin_client, csv_bytes(rows), zip_bytes({f"{r['id']}.jpg": catalogue_photo(r) for r in rows}))
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
    from shop.importing import catalogue

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(catalogue, "catalogue_import", broken)
    upload(admin_client, csv_bytes(csv_rows()[:1]), None)
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
        upload(admin_client, csv_bytes(csv_rows()[:1]), None)
    job = ImportJob.objects.get()
    assert sent == [job.pk] and job.state == ImportJob.State.PENDING
    assert background_wait_idle(1)


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
