"""Similarity heads for staff: each head's held-out figures next to the raw backbone's
(visualsearch.admin.head_figures), and the retrain, activate and roll-back buttons, each a POST
that calls visualsearch.services.heads (or queues the training) and comes back to the list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from visualsearch.admin.head_figures import figures_summary, head_figure_rows, learned_photo_space, raw_figures
from visualsearch.models import SimilarityHead
from visualsearch.selectors import head_active, served_model_version
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
            path("rollback/", view(self.rollback_view), name="visualsearch_similarityhead_rollback"),
            path("<int:head_id>/activate/", view(self.activate_view), name="visualsearch_similarityhead_activate"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        active = head_active()
        heads = list(SimilarityHead.objects.defer("weights").order_by("-pk")[:20])
        context = {
            **(extra_context or {}),
            "active_head": active,
            "model_version": served_model_version(active),
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

    @method_decorator(require_POST)
    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        if refused := self._refuse(request):
            return refused
        from visualsearch.tasks import train_similarity_head

        try:
            train_similarity_head.delay()
        except Exception as exc:  # the broker is down
            self.message_user(request, f"The task queue is unavailable, nothing was started ({exc}).", messages.ERROR)
            return self._back()
        self.message_user(
            request,
            "Retraining started: the new head appears here when it is done (a few minutes), active only if it "
            "beats the active one on the held-out products.",
            messages.SUCCESS,
        )
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
