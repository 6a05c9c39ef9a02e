"""Similarity heads for staff: what find similar and photo search do now, in plain words; the
running retrain's progress, time left and Cancel; the latest retrain's outcome with before/after
examples; each head's held-out figures in a technical table (visualsearch.admin.head_figures).
"Retrain similarity" asks for confirmation (GET) and starts a retrain job in the background
(POST, visualsearch.services.head_jobs); activate and roll back call visualsearch.services.heads.
Every button is a POST that comes back to the list at once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from visualsearch import selectors
from visualsearch.admin.head_figures import (
    example_product_ids,
    example_rows,
    figures_summary,
    head_figure_rows,
    head_sentences,
    learned_photo_space,
    raw_figures,
    serving_sentences,
)
from visualsearch.conf import vs_settings
from visualsearch.models import HeadTrainingJob, SimilarityHead
from visualsearch.selectors import head_active, served_model_version
from visualsearch.services import head_jobs
from visualsearch.services import heads as head_services


@admin.register(SimilarityHead)
class SimilarityHeadAdmin(admin.ModelAdmin):
    """Similarity heads: each one's held-out figures (next to the raw backbone's), training
    time, size and state; "Retrain similarity" queues a training, and a head can be
    activated or the active one rolled back."""

    change_list_template = "admin/visualsearch/similarityhead/change_list.html"
    list_display = (
        "__str__",
        "active",
        "figures",
        "training_time",
        "size",
        "trained_on",
        "created",
        "activated_at",
    )
    list_filter = ("active", "backbone_version")
    exclude = ("weights",)
    readonly_fields = [f.name for f in SimilarityHead._meta.fields if f.name != "weights"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SimilarityHead]:
        return super().get_queryset(request).defer("weights")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SimilarityHead | None = None) -> bool:
        return False

    @admin.display(description="Held-out figures (head / raw backbone)")
    def figures(self, head: SimilarityHead) -> str:
        return format_html("{}", figures_summary(head))

    @admin.display(description="Training")
    def training_time(self, head: SimilarityHead) -> str:
        return f"{head.training_seconds:.0f} s"

    @admin.display(description="Size")
    def size(self, head: SimilarityHead) -> str:
        return f"{head.size_bytes / 1e6:.1f} MB"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("retrain/", view(self.retrain_view), name="visualsearch_similarityhead_retrain"),
            path("retrain/<int:job_id>/cancel/", view(self.cancel_view), name="visualsearch_similarityhead_cancel"),
            path("rollback/", view(self.rollback_view), name="visualsearch_similarityhead_rollback"),
            path("<int:head_id>/activate/", view(self.activate_view), name="visualsearch_similarityhead_activate"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        active = head_active()
        heads = list(SimilarityHead.objects.defer("weights").order_by("-pk")[:20])
        jobs = selectors.head_training_jobs_recent()
        running = next((p for p in jobs if p.job.state == HeadTrainingJob.State.RUNNING), None)
        latest = next((p for p in jobs if p.job.state != HeadTrainingJob.State.RUNNING), None)
        latest_head = latest.job.head if latest is not None else None
        examples = example_rows(latest_head, selectors.products_by_ids(example_product_ids(latest_head)))
        context = {
            "title": "Similarity heads",
            **(extra_context or {}),
            "active_head": active,
            "model_version": served_model_version(active),
            "serving_sentences": serving_sentences(active, heads[0] if heads else None),
            "running": running,
            "latest": latest,
            "latest_sentences": head_sentences(latest_head) if latest_head is not None else [],
            "examples": examples,
            # Counted by the last retrain (identical file or vectors), else by identical files now.
            "twins": (latest.job.twins if latest is not None and latest.job.twins else None)
            or selectors.catalogue_twins_by_checksum(),
            "head_rows": head_figure_rows(heads),
            "raw_figures": raw_figures(heads),
            "photo_space": learned_photo_space(active),
            "can_train": self._can_train(request),
        }
        return super().changelist_view(request, context)

    def _can_train(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or request.user.has_perm("visualsearch.add_similarityhead"))

    def _back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:visualsearch_similarityhead_changelist"))

    def _refuse(self, request: HttpRequest) -> HttpResponseRedirect | None:
        if not self._can_train(request):
            self.message_user(
                request, "You do not have permission to train or switch similarity heads.", messages.ERROR
            )
            return self._back()
        return None

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        """GET: what a retrain does, and a button to confirm it; POST: start it in the background."""
        if refused := self._refuse(request):
            return refused
        running = head_jobs.head_training_job_running()
        if request.method == "GET":
            context = {
                **self.admin_site.each_context(request),
                "title": "Retrain similarity?",
                "opts": self.model._meta,
                "active_head": head_active(),
                "running": running,
                "min_queries": vs_settings.HEAD_MIN_EVAL_QUERIES,
                "confidence": round(100 * vs_settings.HEAD_CONFIDENCE),
                "photo_pairs": vs_settings.HEAD_PHOTO_PAIRS,
                "twins": selectors.catalogue_twins_by_checksum(),
            }
            return TemplateResponse(request, "admin/visualsearch/similarityhead/retrain_confirm.html", context)
        if request.method != "POST":
            return HttpResponse(status=405)
        try:
            job = head_jobs.head_training_job_start(user=request.user, background=True)
        except head_jobs.TrainingAlreadyRunning as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return self._back()
        self.message_user(
            request,
            f"Retrain #{job.pk} started in the background: its progress shows below. The new head becomes active "
            "only if it is better beyond noise on the held-out products.",
            messages.SUCCESS,
        )
        return self._back()

    @method_decorator(require_POST)
    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        job = get_object_or_404(HeadTrainingJob, pk=job_id)
        if head_jobs.head_training_job_cancel(job):
            self.message_user(request, f"Cancelling retrain #{job.pk}: it stops within seconds and stores nothing.")
        else:
            self.message_user(request, f"Retrain #{job.pk} is not running.", messages.WARNING)
        return self._back()

    @method_decorator(require_POST)
    def activate_view(self, request: HttpRequest, head_id: int) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        head = get_object_or_404(SimilarityHead.objects.defer("weights"), pk=head_id)
        head_services.head_activate(head)
        self.message_user(request, f"{head.version} is active; the search indexes switch to it within seconds.")
        return self._back()

    @method_decorator(require_POST)
    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        head = head_services.head_rollback()
        self.message_user(
            request, f"Rolled back: {head.version + ' is active' if head else 'find similar uses the raw vectors'}."
        )
        return self._back()
