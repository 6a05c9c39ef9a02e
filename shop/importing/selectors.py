"""Reads of import jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from shop.models import ImportJob


def import_jobs_recent(limit: int = 20) -> QuerySet[ImportJob]:
    """The latest jobs, newest first, without their error lists."""
    return ImportJob.objects.select_related("requested_by").defer("errors")[:limit]
