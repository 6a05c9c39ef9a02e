"""Insights in the admin: the entries on the admin's index (the dashboard, duplicates, the pairs
marked different) and the duplicate warning when a product is saved."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from insights.duplicates import duplicates_of_product
from insights.models import DistinctPair, SearchEvent
from shop.models import Product
from visualsearch.admin.products import ProductWithEmbeddingAdmin


@admin.register(SearchEvent)
class InsightsDashboardEntry(admin.ModelAdmin):
    """The admin index's "Insights" entry: opens the dashboard."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_staff

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("insights:dashboard"))


@admin.register(DistinctPair)
class DistinctPairAdmin(admin.ModelAdmin):
    """Pairs marked as different products; deleting one lists the pair again on the duplicates
    page."""

    list_display = ("first", "second", "marked_by", "created")
    list_select_related = ("first", "second", "marked_by")
    readonly_fields = ("first", "second", "marked_by", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ProductWithDuplicateWarningAdmin(ProductWithEmbeddingAdmin):
    """The product admin, warning on save when the product's picture is another product's."""

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        twins = duplicates_of_product(obj)
        if twins:
            links = format_html_join(
                ", ",
                '<a href="{}">{} (#{})</a>',
                ((reverse("admin:shop_product_change", args=[t.pk]), t.name, t.pk) for t in twins[:5]),
            )
            self.message_user(
                request,
                format_html(
                    "This product’s picture is the same as {}’s: {}. If they are the same product, deactivate "
                    'one; if not, mark them as different on the <a href="{}">duplicates page</a>.',
                    "another product" if len(twins) == 1 else f"{len(twins)} other products",
                    links,
                    reverse("insights:duplicates"),
                ),
                messages.WARNING,
            )


admin.site.unregister(Product)
admin.site.register(Product, ProductWithDuplicateWarningAdmin)
