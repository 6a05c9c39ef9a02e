"""Staff side of the catalogue: products with thumbnails and filters. Apps built on the shop
extend ``ProductAdmin`` from their own admin modules (visual search adds the embedding status)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from shop.forms import ProductAdminForm
from shop.models import Product, ProductVariant
from shop.services import catalogue_changes_announce, product_image_derivatives_update

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

admin.site.site_header = "Lookalike staff"
admin.site.site_title = "Lookalike staff"
admin.site.index_title = "Shop administration"
# The product list is wide (thumbnail, attributes, embedding status, filters): give it the room.
admin.site.enable_nav_sidebar = False


class ProductVariantInline(admin.TabularInline):
    """Sizes and their stock, edited on the product's page."""

    model = ProductVariant
    fields = ("size", "sort_order", "stock")
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    # The options that subclasses extend (``(*ProductAdmin.list_filter, …)``) are typed as
    # variable-length tuples, so that a longer one still matches.
    form = ProductAdminForm
    inlines = [ProductVariantInline]
    list_display: tuple[str, ...] = (
        "thumbnail_tag",
        "name",
        "external_id",
        "article_type",
        "base_colour",
        "gender",
        "price",
        "stock_total",
        "is_active",
    )
    list_display_links = ("thumbnail_tag", "name")
    list_filter: ClassVar[tuple[str | type[admin.ListFilter], ...]] = (
        "is_active",
        "gender",
        "master_category",
        "sub_category",
        "article_type",
        "season",
        "usage",
    )
    search_fields = ("name", "=external_id")
    list_per_page = 50
    readonly_fields: ClassVar[tuple[str, ...]] = ("image_preview", "created", "updated")
    actions: list[str] = ["make_active", "make_inactive"]
    fieldsets: ClassVar[_FieldsetSpec] = (
        (None, {"fields": ("name", "external_id", "price", "is_active")}),
        ("Image", {"fields": ("image", "image_preview")}),
        ("Category", {"fields": ("gender", "master_category", "sub_category", "article_type")}),
        ("Details", {"fields": ("base_colour", "season", "year", "usage")}),
        ("History", {"fields": ("created", "updated"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        stock = (
            ProductVariant.objects.filter(product=OuterRef("pk"))
            .order_by()
            .values("product")
            .annotate(total=Sum("stock"))
            .values("total")
        )
        return super().get_queryset(request).annotate(stock_total=Subquery(stock))

    @admin.display(description="Stock", ordering="stock_total")
    def stock_total(self, product: Product) -> str:
        total = getattr(product, "stock_total", None)
        if total is None:
            return "—"  # no sizes
        return "Sold out" if total == 0 else str(total)

    @admin.display(description="")
    def thumbnail_tag(self, product: Product) -> str:
        if not product.image:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="height:48px;width:auto;border-radius:4px">', product.card_image_url
        )

    @admin.display(description="Preview")
    def image_preview(self, product: Product) -> str:
        if not product.image:
            return "No image yet."
        return format_html(
            '<a href="{0}" target="_blank"><img src="{0}" alt="" style="max-height:320px;max-width:320px"></a>',
            product.image.url,
        )

    def save_model(self, request: HttpRequest, product: Product, form: ProductAdminForm, change: bool) -> None:
        super().save_model(request, product, form, change)
        if "image" in form.changed_data:
            product_image_derivatives_update(product)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            catalogue_changes_announce([form.instance.pk])  # sizes or stock changed

    @admin.action(description="Mark selected products active")
    def make_active(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description="Mark selected products inactive (hidden from the shop and search)")
    def make_inactive(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Product], active: bool) -> None:
        ids = list(queryset.exclude(is_active=active).values_list("pk", flat=True))
        Product.objects.filter(pk__in=ids).update(is_active=active, updated=timezone.now())
        catalogue_changes_announce(ids)
        self.message_user(request, f"{len(ids)} product(s) marked {'active' if active else 'inactive'}.")
