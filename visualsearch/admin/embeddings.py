"""The embeddings list for staff: each product's embedding status, model version and error,
searchable, with an action that computes the selected ones again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from visualsearch.models import ProductEmbedding
from visualsearch.services import embeddings as embedding_services


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
