"""Celery tasks of the shop: thin wrappers around its services, and how an import job is
scheduled (``import_job_dispatch``, handed to ``importing.jobs.import_job_create``). The
tasks import the services, never the other way round."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from core.background import background_submit
from shop.importing import jobs


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def import_job_run_task(job_id: int) -> None:
    """Run an admin import job (``importing.jobs.import_job_run``; safe to run again)."""
    try:
        jobs.import_job_run(job_id)
    except Exception as exc:
        jobs.import_job_fail(job_id, exc)
        raise


def import_job_dispatch(job_id: int) -> None:
    """Run the job through Celery with a broker, in this process's background thread without."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        background_submit(
            jobs.import_job_run,
            job_id,
            name=f"import #{job_id}",
            on_error=lambda exc: jobs.import_job_fail(job_id, exc),
        )
        return
    try:
        import_job_run_task.delay(job_id)
    except Exception as exc:  # kombu/redis connection errors have no common base class
        jobs.import_job_not_queued(job_id, exc)
