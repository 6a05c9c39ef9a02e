"""Staff see who waits for what: every alert (filters by status and date, search by e-mail or
product) and the products with the most shoppers waiting."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from stockalerts.models import ProductAlerts, StockAlert


@admin.register(StockAlert)
class StockAlertAdmin(admin.ModelAdmin):
    list_display = ("email", "product_link", "size", "status", "created", "notified_at")
    list_filter = ("status", "created", "notified_at", "product__master_category")
    search_fields = ("email", "product__name", "=product__id", "=product__external_id")
    list_select_related = ("product", "variant")
    raw_id_fields = ("product", "variant", "user")
    readonly_fields = ("created", "notified_at", "unsubscribed_at")
    date_hierarchy = "created"

    @admin.display(description="Product", ordering="product__name")
    def product_link(self, alert: StockAlert) -> str:
        url = reverse("admin:shop_product_change", args=[alert.product_id])
        return format_html('<a href="{}">{}</a>', url, alert.product.name)

    @admin.display(description="Size")
    def size(self, alert: StockAlert) -> str:
        return alert.variant.size if alert.variant else "any"


@admin.register(ProductAlerts)
class ProductAlertsAdmin(admin.ModelAdmin):
    """Products someone asked about, most shoppers waiting first; read-only (stock is edited on
    the product's own page)."""

    list_display = ("name", "in_stock_now", "waiting", "notified", "alerts_link")
    search_fields = ("name", "=id", "=external_id")
    list_filter = ("master_category",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductAlerts]:
        waiting = Count("stock_alerts", filter=Q(stock_alerts__status=StockAlert.Status.WAITING))
        notified = Count("stock_alerts", filter=Q(stock_alerts__status=StockAlert.Status.NOTIFIED))
        return (
            super()
            .get_queryset(request)
            .annotate(alert_count=Count("stock_alerts"), waiting_count=waiting, notified_count=notified)
            .filter(alert_count__gt=0)
            .order_by("-waiting_count", "-id")
            .prefetch_related("variants")
        )

    @admin.display(description="Waiting", ordering="waiting_count")
    def waiting(self, product: ProductAlerts) -> int:
        return product.waiting_count  # type: ignore[attr-defined]

    @admin.display(description="Notified", ordering="notified_count")
    def notified(self, product: ProductAlerts) -> int:
        return product.notified_count  # type: ignore[attr-defined]

    @admin.display(description="In stock now", boolean=True)
    def in_stock_now(self, product: ProductAlerts) -> bool:
        return product.in_stock

    @admin.display(description="Alerts")
    def alerts_link(self, product: ProductAlerts) -> str:
        url = reverse("admin:stockalerts_stockalert_changelist") + f"?product__id__exact={product.pk}"
        edit = reverse("admin:shop_product_change", args=[product.pk])
        return format_html('<a href="{}">see alerts</a> · <a href="{}">edit stock</a>', url, edit)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
