"""Import uploads are private (issue 19, section 3): while a job waits they are kept in the
private storage, outside MEDIA_ROOT, under random names; an anonymous request for them (by
the old predictable name or the real one) is a 404 also where Django serves media; they are
deleted when the job ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import re_path

import config.urls
from config.media import serve_media
from shop.importing.jobs import import_job_create, import_job_run
from shop.models import ImportJob
from shop.tests.importing.support import csv_bytes, csv_rows, zip_bytes
from tests.support.catalogue import catalogue_photo

# The site's URLs with Django serving media (as with DJANGO_SERVE_MEDIA=1).
urlpatterns = [*config.urls.urlpatterns[:-1], re_path(r"^media/(?P<path>.*)$", serve_media)]


@pytest.fixture
def waiting_job(db) -> ImportJob:
    rows = csv_rows()[:2]
    queued: list[int] = []
    job = import_job_create(
        SimpleUploadedFile("styles.csv", csv_bytes(rows)),
        SimpleUploadedFile("photos.zip", zip_bytes({f"{row['id']}.jpg": catalogue_photo(row) for row in rows})),
        dispatch=queued.append,
        compute_embeddings=False,
    )
    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.PENDING
    return job


def _files_under(folder: object) -> set[Path]:
    return {path for path in Path(str(folder)).rglob("*") if path.is_file()}


def test_a_waiting_jobs_uploads_are_not_served_to_anyone(waiting_job, settings) -> None:
    settings.ROOT_URLCONF = __name__
    anonymous = Client()
    names = [waiting_job.csv_file.name, waiting_job.images_zip.name]
    guesses = [f"imports/import-{waiting_job.pk}.csv", f"imports/import-{waiting_job.pk}-images.zip"]
    for name in names + guesses:
        assert anonymous.get(f"/media/{name}").status_code == 404, name
    # Random names, in the private storage, nothing under MEDIA_ROOT.
    for name in names:
        assert re.fullmatch(r"imports/[0-9a-f]{32}\.(csv|zip)", name), name
        assert waiting_job.csv_file.storage.exists(name)
    assert not any("imports" in path.parts for path in _files_under(settings.MEDIA_ROOT))
    from core.storage import PrivateFileSystemStorage

    assert isinstance(storages["private"], PrivateFileSystemStorage)
    with pytest.raises(ValueError):
        waiting_job.csv_file.storage.url(waiting_job.csv_file.name)


@pytest.mark.django_db(transaction=True)
def test_the_uploads_are_deleted_when_the_job_ends(waiting_job) -> None:
    storage = waiting_job.csv_file.storage
    names = [waiting_job.csv_file.name, waiting_job.images_zip.name]
    job = import_job_run(waiting_job.pk)
    assert job is not None and job.state == ImportJob.State.DONE, job and job.message
    assert not job.csv_file and not job.images_zip
    assert not any(storage.exists(name) for name in names)


def test_the_private_root_is_outside_the_media_root() -> None:
    private = Path(str(settings.PRIVATE_MEDIA_ROOT)).resolve()
    assert not private.is_relative_to(Path(str(settings.MEDIA_ROOT)).resolve())
    assert Path(storages["private"].path("imports/x.csv")).is_relative_to(private)
