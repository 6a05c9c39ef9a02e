"""Staff side of the catalogue: products with thumbnails and filters. Apps built on the shop
extend ``ProductAdmin`` from their own admin modules (visual search adds the embedding status)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from shop.forms import ImportUploadForm, ProductAdminForm, ProductImageForm
from shop.importing.jobs import import_job_create
from shop.importing.selectors import import_jobs_recent
from shop.importing.uploads import ImportRefused
from shop.models import ImportJob, Product, ProductImage, ProductVariant
from shop.services import (
    catalogue_changes_announce,
    product_image_derivatives_update,
    product_image_make_main,
    product_images_delete_files,
)
from shop.tasks import import_job_dispatch

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


class SaleListFilter(admin.SimpleListFilter):
    title = "sale"
    parameter_name = "on_sale"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "On sale"), ("no", "Full price")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if self.value() == "yes":
            return queryset.filter(compare_at_price__isnull=False)
        if self.value() == "no":
            return queryset.filter(compare_at_price__isnull=True)
        return queryset


class ProductImageInline(admin.TabularInline):
    """More photos of the product (back, detail, model shot), in their order after the main
    image; any of them can become the main image."""

    model = ProductImage
    form = ProductImageForm
    fields = ("preview", "image", "alt_text", "position", "make_main")
    readonly_fields = ("preview",)
    extra = 1

    @admin.display(description="Photo")
    def preview(self, image: ProductImage) -> str:
        if not image.pk or not image.image:
            return "—"
        return format_html(
            '<a href="{}" target="_blank"><img src="{}" alt="" style="height:64px;width:auto;border-radius:4px"></a>',
            image.image.url,
            image.card_image_url,
        )


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    # The options that subclasses extend (``(*ProductAdmin.list_filter, …)``) are typed as
    # variable-length tuples, so that a longer one still matches.
    form = ProductAdminForm
    inlines = [ProductVariantInline, ProductImageInline]
    list_display: tuple[str, ...] = (
        "thumbnail_tag",
        "name",
        "external_id",
        "article_type",
        "base_colour",
        "gender",
        "price",
        "discount_tag",
        "stock_total",
        "is_active",
    )
    list_display_links = ("thumbnail_tag", "name")
    list_filter: ClassVar[tuple[str | type[admin.ListFilter], ...]] = (
        "is_active",
        SaleListFilter,
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
        (None, {"fields": ("name", "external_id", ("price", "compare_at_price"), "is_active")}),
        ("Image", {"fields": ("image", "image_preview")}),
        ("Category", {"fields": ("gender", "master_category", "sub_category", "article_type")}),
        ("Details", {"fields": ("base_colour", "season", "year", "usage", "allow_new_values")}),
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

    @admin.display(description="Sale", ordering="compare_at_price")
    def discount_tag(self, product: Product) -> str:
        return f"−{product.discount_percent}% (was {product.compare_at_price})" if product.on_sale else "—"

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
        product = form.instance
        images_changed = False
        for formset in formsets:
            if formset.model is not ProductImage:
                continue
            for image_form in formset.forms:
                image = image_form.instance
                if image.pk is None or image in formset.deleted_objects:
                    continue
                if "image" in image_form.changed_data:
                    product_image_derivatives_update(image)
                    images_changed = True
                if image_form.cleaned_data.get("make_main"):
                    product_image_make_main(image)
                    images_changed = True
            if formset.deleted_objects:
                product_images_delete_files(formset.deleted_objects)
                images_changed = True
        if images_changed:
            # Every photo is embedded (photo search finds the product through any of them).
            catalogue_changes_announce([product.pk], images_changed=[product.pk])
        elif any(formset.has_changed() for formset in formsets):
            catalogue_changes_announce([product.pk])  # sizes, stock, or an image's order or description

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


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Bulk import from the admin: "Add" is the upload form (CSV + zip of images); each job
    has a page with its counts, a progress bar (refreshed while it runs) and per-row errors."""

    list_display = (
        "job_link",
        "state",
        "total",
        "processed",
        "created_count",
        "updated_count",
        "unchanged_count",
        "skipped_count",
        "requested_by",
        "created",
    )
    list_display_links = None
    change_list_template = "admin/shop/importjob/change_list.html"
    list_filter = ("state",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        return super().get_queryset(request).defer("errors")

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="shop_importjob_upload"),
            path("<int:job_id>/progress/", view(self.progress_view), name="shop_importjob_progress"),
            *super().get_urls(),
        ]

    @admin.display(description="Import", ordering="pk")
    def job_link(self, job: ImportJob) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:shop_importjob_progress", args=[job.pk]), job)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:shop_importjob_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            self.message_user(request, "You do not have permission to import products.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(
                    form.cleaned_data["csv_file"],
                    form.cleaned_data.get("images_zip"),
                    dispatch=import_job_dispatch,
                    user=request.user,
                    compute_embeddings=form.cleaned_data["compute_embeddings"],
                )
            except ImportRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Started {job}: follow its progress below.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:shop_importjob_progress", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import products (CSV + images)",
            "opts": self.model._meta,
            "form": form,
            "jobs": import_jobs_recent(10),
        }
        return TemplateResponse(request, "admin/shop/importjob/upload.html", context)

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        job = get_object_or_404(ImportJob.objects.select_related("requested_by"), pk=job_id)
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "running": not job.is_finished,
        }
        return TemplateResponse(request, "admin/shop/importjob/progress.html", context)
