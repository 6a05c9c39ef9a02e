"""Visual search on the shop's product admin: the embedding status column and filter, the
embedding summary on a product's page, the "compute embeddings" action, and the warning when a
saved product's embedding could not be queued."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from shop.admin import ProductAdmin
from shop.models import Product
from visualsearch.models import EmbeddingStatus, ImageEmbedding, ProductEmbedding
from visualsearch.services import embeddings as embedding_services

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
        more = product.images.count()
        if more:
            states = dict(
                ImageEmbedding.objects.filter(product=product)
                .values_list("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            done, failed = states.get(EmbeddingStatus.DONE, 0), states.get(EmbeddingStatus.FAILED, 0)
            parts.append(f"more images: {done} of {more} embedded" + (f", {failed} failed" if failed else ""))
            parts += ImageEmbedding.objects.filter(product=product).exclude(error="").values_list("error", flat=True)
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


admin.site.unregister(Product)
admin.site.register(Product, ProductWithEmbeddingAdmin)
