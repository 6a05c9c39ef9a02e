"""An admin import as an ``ImportJob``: the uploads are checked at once (``ImportRefused``)
and kept in storage; the job runs later, through ``catalogue.catalogue_import`` on a temporary
folder, writing its progress and per-row errors as batches finish.

How a job gets run (a Celery task with a broker, the process's background thread without) is
not decided here: the caller hands ``import_job_create`` a ``dispatch`` (``shop.tasks``
provides it), so this module never imports the tasks."""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from shop.importing import catalogue
from shop.importing.uploads import ImportRefused, import_csv_check, import_limits, import_zip_check, import_zip_extract
from shop.models import ImportJob

logger = logging.getLogger(__name__)

_SKIP = re.compile(r"^skipped line (\d+) \(id (.*?)\): (.*)$", re.DOTALL)
MAX_ERRORS_KEPT = 1000


def import_job_create(
    csv_upload: Any,
    zip_upload: Any | None,
    *,
    dispatch: Callable[[int], None],
    user: Any = None,
    compute_embeddings: bool = True,
) -> ImportJob:
    """Check the uploads (refused at once with ImportRefused), keep them in storage and hand
    the job's id to ``dispatch`` once the transaction commits."""
    import_csv_check(csv_upload)
    limits = import_limits()
    if zip_upload is not None:
        size = getattr(zip_upload, "size", None)
        if size is not None and size > limits["MAX_ZIP_BYTES"]:
            raise ImportRefused(f"The zip is {size / 1e6:.0f} MB; the limit is {limits['MAX_ZIP_BYTES'] / 1e6:.0f} MB.")
        import_zip_check(zip_upload)
        zip_upload.seek(0)
    job = ImportJob(
        requested_by=user if getattr(user, "pk", None) else None,
        csv_name=Path(getattr(csv_upload, "name", "styles.csv")).name[:255],
        zip_name=Path(getattr(zip_upload, "name", "")).name[:255] if zip_upload is not None else "",
        compute_embeddings=compute_embeddings,
    )
    with transaction.atomic():
        job.save()
        # In private storage under random names (not the job's number), whatever the uploads
        # were called; deleted when the job ends.
        job.csv_file.save(f"{secrets.token_hex(16)}.csv", csv_upload, save=False)
        if zip_upload is not None:
            job.images_zip.save(f"{secrets.token_hex(16)}.zip", zip_upload, save=False)
        job.save(update_fields=["csv_file", "images_zip"])
        transaction.on_commit(lambda: dispatch(job.pk))
    return job


def import_job_not_queued(job_id: int, exc: BaseException) -> None:
    """The task queue refused the job: it fails at once, saying so (it would wait forever)."""
    logger.error("could not queue import #%s: %s", job_id, exc)
    ImportJob.objects.filter(pk=job_id, state=ImportJob.State.PENDING).update(
        state=ImportJob.State.FAILED,
        finished_at=timezone.now(),
        message=f"Not queued: the task queue is unavailable ({exc}). Upload the files again once it is back.",
    )


def import_job_fail(job_id: int, exc: BaseException) -> None:
    ImportJob.objects.filter(pk=job_id).exclude(state=ImportJob.State.DONE).update(
        state=ImportJob.State.FAILED,
        finished_at=timezone.now(),
        message=str(exc) if isinstance(exc, ImportRefused) else f"The import failed: {type(exc).__name__}: {exc}",
    )


def _row_error(message: str) -> dict[str, object]:
    match = _SKIP.match(message)
    if not match:
        return {"line": None, "id": "", "reason": message}
    return {"line": int(match.group(1)), "id": match.group(2), "reason": match.group(3)}


def import_job_run(job_id: int, *, batch_size: int = 200) -> ImportJob | None:
    """Run an import job: extract its zip safely into a temporary folder next to its CSV (as
    ``styles.csv`` + ``images/``) and run ``catalogue_import`` on that folder, writing progress
    and per-row errors to the job as batches finish. Idempotent: a redelivered task runs a
    running job again (the import itself is idempotent); a finished one is left alone."""
    claimed = ImportJob.objects.filter(pk=job_id, state__in=[ImportJob.State.PENDING, ImportJob.State.RUNNING]).update(
        state=ImportJob.State.RUNNING, started_at=timezone.now(), processed=0, skipped_count=0, errors=[]
    )
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)
    folder = Path(tempfile.mkdtemp(prefix=f"lookalike-import-{job_id}-"))
    try:
        with job.csv_file.open("rb") as source, (folder / "styles.csv").open("wb") as target:
            shutil.copyfileobj(source, target)
        images = folder / "images"
        images.mkdir()
        if job.images_zip:
            with job.images_zip.open("rb") as archive:
                import_zip_extract(archive, images)
        job.total = catalogue.count_rows(folder)
        job.save(update_fields=["total"])
        errors: list[dict[str, object]] = []
        state = {"processed": 0, "skipped": 0, "saved_errors": 0}

        def on_skip(message: str) -> None:
            state["skipped"] += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(_row_error(message))

        def on_progress(count: int) -> None:
            state["processed"] += count
            update: dict[str, object] = {"processed": state["processed"], "skipped_count": state["skipped"]}
            if len(errors) != state["saved_errors"]:
                update["errors"] = errors
                state["saved_errors"] = len(errors)
            ImportJob.objects.filter(pk=job_id).update(**update)

        result = catalogue.catalogue_import(
            folder,
            batch_size=batch_size,
            on_progress=on_progress,
            on_skip=on_skip,
            announce_images=job.compute_embeddings,
        )
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.DONE,
            finished_at=timezone.now(),
            processed=result.processed,
            created_count=result.created,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            skipped_count=result.skipped,
            errors=errors,
        )
    except ImportRefused as exc:
        import_job_fail(job_id, exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _import_uploads_delete(job)
    job.refresh_from_db()
    return job


def _import_uploads_delete(job: ImportJob) -> None:
    """The uploads are not needed once the job ran (the products hold their own images)."""
    for field in (job.csv_file, job.images_zip):
        if field.name:
            try:
                field.storage.delete(field.name)
            except Exception:
                logger.warning("could not delete the upload %s of import #%s", field.name, job.pk, exc_info=True)
    ImportJob.objects.filter(pk=job.pk).update(csv_file="", images_zip="")
