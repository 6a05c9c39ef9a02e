"""Celery tasks of the shop: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from shop import services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def import_job_run_task(job_id: int) -> None:
    """Run an admin import job (``services.import_job_run``; safe to run again)."""
    try:
        services.import_job_run(job_id)
    except Exception as exc:
        services.import_job_fail(job_id, exc)
        raise
