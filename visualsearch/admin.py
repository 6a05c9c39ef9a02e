"""Staff side of visual search: embedding status on products, the reindex page, jobs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from shop.admin import ProductAdmin
from shop.models import Product
from visualsearch import selectors
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob, SimilarityHead
from visualsearch.selectors import head_active, served_model_version
from visualsearch.services import embeddings as embedding_services
from visualsearch.services import heads as head_services
from visualsearch.services import reindex as reindex_services

STATUS_COLOURS: dict[str | None, str] = {
    "done": "#1a7f37",
    "pending": "#9a6700",
    "failed": "#cf222e",
    None: "#6e7781",
}
STATUS_LABELS: dict[str | None, str] = dict(EmbeddingStatus.choices)

# save_model notes the saved product on the request; changeform_view reads it once the
# save's transaction has committed.
_SAVED_PRODUCT_PK = "_saved_product_pk"


def _saved_product_remember(request: HttpRequest, pk: int) -> None:
    setattr(request, _SAVED_PRODUCT_PK, pk)


def _saved_product_pk(request: HttpRequest) -> int | None:
    return getattr(request, _SAVED_PRODUCT_PK, None)


class EmbeddingStatusFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedding"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [*EmbeddingStatus.choices, ("none", "Not computed yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(embedding__isnull=True)
        if value in EmbeddingStatus.values:
            return queryset.filter(embedding__status=value)
        return queryset


class ProductEmbeddingAdminMixin(admin.ModelAdmin):
    """Embedding status column, summary and the "compute embeddings" action for products.

    Listed before the shop's ``ProductAdmin`` in a subclass's bases; it derives from
    ``ModelAdmin`` itself so that ``super()`` and the admin's methods are known to it (the
    method resolution order is the same as for a plain mixin)."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().changeform_view(request, object_id, form_url, extra_context)
        # The embedding is queued when the save's transaction commits, i.e. after the view
        # returned: only now can we tell the staff member whether that worked.
        saved = _saved_product_pk(request)
        if (
            saved
            and ProductEmbedding.objects.filter(
                product_id=saved, error__startswith=embedding_services.NOT_QUEUED
            ).exists()
        ):
            self.message_user(
                request,
                "The product was saved, but its embedding could not be queued: the task queue (Redis) is "
                "unavailable. It stays pending; use “Compute embeddings for selected products” or the reindex "
                "page once the queue is back.",
                messages.WARNING,
            )
        return response

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _saved_product_remember(request, obj.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return (
            super()
            .get_queryset(request)
            .annotate(embedding_state=F("embedding__status"), embedding_error=F("embedding__error"))
        )

    @admin.display(description="Embedding", ordering="embedding__status")
    def embedding_status_tag(self, product: Product) -> str:
        state: str | None = getattr(product, "embedding_state", None)  # annotated by get_queryset
        label = STATUS_LABELS.get(state, "Not computed")
        return format_html(
            '<span title="{}" style="color:{};font-weight:600">{}</span>',
            getattr(product, "embedding_error", "") or "",
            STATUS_COLOURS.get(state, "#6e7781"),
            label,
        )

    @admin.display(description="Embedding")
    def embedding_summary(self, product: Product) -> str:
        if not product.pk:
            return "Computed by the worker after the product is saved."
        row = ProductEmbedding.objects.filter(product=product).defer("vector").first()
        if row is None:
            return "Not computed yet."
        parts = [row.get_status_display()]
        if row.computed_at:
            parts.append(f"computed {row.computed_at:%Y-%m-%d %H:%M} UTC with {row.model_version or 'unknown model'}")
        if row.error:
            parts.append(row.error)
        return " · ".join(parts)

    @admin.action(description="Compute embeddings for selected products")
    def compute_embeddings(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        embedding_services.embeddings_mark_pending(ids)
        if embedding_services.embeddings_enqueue(ids, force=True):
            self.message_user(
                request,
                f"Queued embeddings for {len(ids)} product(s); their status turns to Done as the worker finishes.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                "The task queue is unavailable, nothing was queued. Try again once Redis is back.",
                messages.ERROR,
            )


class ProductWithEmbeddingAdmin(ProductEmbeddingAdminMixin, ProductAdmin):
    """The shop's product admin with visual search's column, filter, summary and action."""

    list_display = (*ProductAdmin.list_display[:-1], "embedding_status_tag", ProductAdmin.list_display[-1])
    list_filter = (EmbeddingStatusFilter, *ProductAdmin.list_filter)
    readonly_fields = (*ProductAdmin.readonly_fields, "embedding_summary")
    actions = ["compute_embeddings", *ProductAdmin.actions]
    fieldsets = tuple(
        (name, {**options, "fields": (*options["fields"], "embedding_summary")} if name == "Image" else options)
        for name, options in ProductAdmin.fieldsets
    )


# The admin's index names what staff manage here, visual search included.
admin.site.index_title = "Catalogue and visual search"
admin.site.unregister(Product)
admin.site.register(Product, ProductWithEmbeddingAdmin)


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
        context = {
            **self.admin_site.each_context(request),
            "title": "Visual search: embeddings and reindex",
            "opts": self.model._meta,
            "counts": selectors.embedding_counts(),
            "running": selectors.reindex_job_progress(running) if running else None,
            "jobs": selectors.reindex_jobs_recent(),
            "failures": selectors.embedding_failures(),
            "queues": selectors.task_queue_lengths(),
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


@admin.register(ProductEmbedding)
class ProductEmbeddingAdmin(admin.ModelAdmin):
    list_display = ("product", "status", "model_version", "error", "computed_at", "job")
    list_filter = ("status", "model_version")
    search_fields = ("product__name", "=product__external_id", "error")
    list_select_related = ("product", "job")
    actions = ["retry"]
    exclude = ("vector",)
    readonly_fields = (
        "product",
        "status",
        "error",
        "model_version",
        "source_checksum",
        "job",
        "requested_at",
        "computed_at",
        "updated",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductEmbedding]:
        return super().get_queryset(request).defer("vector")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Compute these embeddings again")
    def retry(self, request: HttpRequest, queryset: QuerySet[ProductEmbedding]) -> None:
        ids = list(queryset.values_list("product_id", flat=True))
        embedding_services.embeddings_mark_pending(ids)
        if embedding_services.embeddings_enqueue(ids, force=True):
            self.message_user(request, f"Queued {len(ids)} embedding(s) again.", messages.SUCCESS)
        else:
            self.message_user(request, "The task queue is unavailable; nothing was queued.", messages.ERROR)


HEAD_FIGURES = (
    ("p5_type", "P@5 type"),
    ("p1_type", "P@1 type"),
    ("p5_sub", "P@5 sub category"),
    ("p5_colour", "P@5 colour"),
    ("p5_type_colour", "P@5 type∧colour"),
    ("p5_type_gender", "P@5 type∧gender"),
)
# Photo search on held-out shopper photos (metrics["photos"][profile][head or raw]).
PHOTO_FIGURES = (
    ("standard", "self_at_1", "Photo self@1"),
    ("standard", "self_at_5", "Photo self@5"),
    ("hard", "self_at_1", "Hard photo self@1"),
    ("hard", "self_at_5", "Hard photo self@5"),
)


def _learned_photo_space(head: SimilarityHead | None) -> str:
    """How the head's photo space was chosen ("" when it has none)."""
    described = str((head.params or {}).get("photo_space", "")) if head is not None else ""
    return described if described.startswith("shrinkage") else ""


def _photo_figures(head: SimilarityHead | None, which: str) -> list[tuple[str, float | None]]:
    photos = (head.metrics.get("photos") or {}) if head is not None else {}
    return [(label, (photos.get(profile) or {}).get(which, {}).get(key)) for profile, key, label in PHOTO_FIGURES]


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
        own, raw = head.metrics.get("eval", {}), head.metrics.get("raw", {})
        return format_html(
            "{}",
            " · ".join(f"{label} {own.get(key, 0):.3f} / {raw.get(key, 0):.3f}" for key, label in HEAD_FIGURES),
        )

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
        heads = SimilarityHead.objects.defer("weights").order_by("-pk")[:20]
        context = {
            **(extra_context or {}),
            "active_head": active,
            "model_version": served_model_version(active),
            "head_rows": [
                (
                    h,
                    [(label, h.metrics.get("eval", {}).get(key)) for key, label in HEAD_FIGURES]
                    + _photo_figures(h, "head"),
                )
                for h in heads
            ],
            "raw_figures": [
                (label, (heads[0].metrics.get("raw", {}) if heads else {}).get(key)) for key, label in HEAD_FIGURES
            ]
            + _photo_figures(heads[0] if heads else None, "raw"),
            "photo_space": _learned_photo_space(active),
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
