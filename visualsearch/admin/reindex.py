"""Reindex jobs for staff: the dashboard (embedding counts, the running job's progress, recent
jobs, failures, queue lengths, the FAISS index artifacts with each space's tuned probe count)
and the start, retry, resume and cancel buttons, each a POST that calls
visualsearch.services.reindex and comes back to the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from visualsearch import selectors
from visualsearch.conf import vs_settings
from visualsearch.models import IndexArtifact, ReindexJob
from visualsearch.services import reindex as reindex_services


@admin.register(ReindexJob)
class ReindexJobAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "state",
        "total",
        "done_count",
        "failed_count",
        "requested_by",
        "started_at",
        "finished_at",
    )
    list_filter = ("state", "mode")
    readonly_fields = [f.name for f in ReindexJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReindexJob | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="visualsearch_reindex_dashboard"),
            path("start/", view(self.start_view), name="visualsearch_reindex_start"),
            path("<int:job_id>/retry/", view(self.retry_view), name="visualsearch_reindex_retry"),
            path("<int:job_id>/resume/", view(self.resume_view), name="visualsearch_reindex_resume"),
            path("<int:job_id>/cancel/", view(self.cancel_view), name="visualsearch_reindex_cancel"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if "all" not in request.GET and not request.GET:
            return HttpResponseRedirect(reverse("admin:visualsearch_reindex_dashboard"))
        return super().changelist_view(request, extra_context)

    def _can_run(self, request: HttpRequest) -> bool:
        return request.user.has_perm("visualsearch.add_reindexjob")

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        running = reindex_services.reindex_job_running()
        artifacts = selectors.index_artifacts_recent()
        serving = next((a for a in artifacts if a.state == IndexArtifact.State.READY), None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Visual search: embeddings and reindex",
            "opts": self.model._meta,
            "counts": selectors.embedding_counts(),
            "running": selectors.reindex_job_progress(running) if running else None,
            "jobs": selectors.reindex_jobs_recent(),
            "failures": selectors.embedding_failures(),
            "queues": selectors.task_queue_lengths(),
            "artifacts": artifacts,
            "serving": serving,
            "nprobe_override": int(vs_settings.FAISS_NPROBE),
            "can_run": self._can_run(request),
        }
        return TemplateResponse(request, "admin/visualsearch/reindex_dashboard.html", context)

    def _back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:visualsearch_reindex_dashboard"))

    def _refuse(self, request: HttpRequest) -> HttpResponseRedirect | None:
        if not self._can_run(request):
            self.message_user(request, "You do not have permission to run a reindex.", messages.ERROR)
            return self._back()
        return None

    @method_decorator(require_POST)
    def start_view(self, request: HttpRequest) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        mode = request.POST.get("mode")
        if mode not in ReindexJob.Mode.values:
            self.message_user(request, "Unknown reindex mode.", messages.ERROR)
            return self._back()
        try:
            job = reindex_services.reindex_job_start(mode, user=request.user, background=True)
        except reindex_services.ReindexAlreadyRunning as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return self._back()
        except reindex_services.NothingToReindex as exc:
            self.message_user(request, str(exc), messages.INFO)
            return self._back()
        self.message_user(request, f"Started reindex #{job.pk}: {job.total} product(s) queued.", messages.SUCCESS)
        return self._back()

    @method_decorator(require_POST)
    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        job = get_object_or_404(ReindexJob, pk=job_id)
        try:
            count = reindex_services.reindex_job_retry_failed(job, background=True)
        except reindex_services.ReindexAlreadyRunning as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return self._back()
        self.message_user(request, f"Retrying {count} failed product(s) of reindex #{job.pk}.", messages.SUCCESS)
        return self._back()

    @method_decorator(require_POST)
    def resume_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        job = get_object_or_404(ReindexJob, pk=job_id)
        count = reindex_services.reindex_job_resume(job, background=True)
        self.message_user(
            request, f"Queued the {count} pending product(s) of reindex #{job.pk} again.", messages.SUCCESS
        )
        return self._back()

    @method_decorator(require_POST)
    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        job = get_object_or_404(ReindexJob, pk=job_id)
        reindex_services.reindex_job_cancel(job)
        self.message_user(request, f"Cancelled reindex #{job.pk}; products already done keep their new embedding.")
        return self._back()
