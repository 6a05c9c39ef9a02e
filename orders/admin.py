"""Staff side of orders: the list with status, total, customer and date; filters; search by
number or email; actions to mark shipped/delivered or cancel (stock returned), each recorded
in the admin log. The change form takes the carrier's tracking and can mark a paid order
shipped (the shipping e-mail goes once, through Celery)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import ApplicationError
from orders import services
from orders.models import Order, OrderLine, OrderStatus
from shop.money import money_format


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("product_name", "size", "unit_price", "quantity", "product")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


class PaymentProblemFilter(admin.SimpleListFilter):
    title = "payment problem"
    parameter_name = "payment_problem"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Payment does not match the order"), ("no", "None")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "yes":
            return queryset.exclude(payment_problem="")
        if self.value() == "no":
            return queryset.filter(payment_problem="")
        return queryset


class OrderAdminForm(forms.ModelForm):
    """The order's change form: the carrier's tracking, and (for a paid order) "mark shipped",
    which moves it to shipped and e-mails the customer (once) through orders.services."""

    mark_shipped = forms.BooleanField(
        required=False,
        label="Mark shipped and e-mail the customer",
        help_text="Moves a paid order to Shipped; the shipping e-mail (with the tracking below) goes once.",
    )

    tracking_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Tracking link", help_text="The carrier's page."
    )

    class Meta:
        model = Order
        fields = ("tracking_number", "tracking_url")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    form = OrderAdminForm
    list_display = (
        "number",
        "created",
        "customer",
        "status",
        "total_display",
        "item_count",
        "payment_ok",
        "shipping_emailed",
    )
    list_filter = ("status", PaymentProblemFilter, "created", "shipping_method")
    search_fields = ("=number", "email")
    date_hierarchy = "created"
    list_select_related = ("user",)
    inlines = [OrderLineInline]
    actions = ["mark_shipped", "mark_delivered", "cancel", "refund"]
    readonly_fields = (
        "number",
        "user",
        "email",
        "status",
        "currency",
        "subtotal",
        "shipping_cost",
        "total",
        "shipping_method_name",
        "idempotency_key",
        "stock_released",
        "created",
        "paid_at",
        "payment_problem",
        "shipped_at",
        "shipping_email_sent_at",
    )
    fieldsets = (
        (None, {"fields": ("number", "status", "payment_problem", "user", "email", "created", "paid_at")}),
        ("Totals", {"fields": ("currency", "subtotal", "shipping_method_name", "shipping_cost", "total")}),
        (
            "Ship to",
            {"fields": ("full_name", "address_line1", "address_line2", "city", "postcode", "country", "phone")},
        ),
        (
            "Shipping",
            {"fields": ("mark_shipped", "tracking_number", "tracking_url", "shipped_at", "shipping_email_sent_at")},
        ),
        ("Internals", {"fields": ("idempotency_key", "stock_released"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.status == OrderStatus.PAID:
            return fieldsets
        # Only a paid order can be marked shipped here.
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "mark_shipped")})
            for name, options in fieldsets
        ]

    def save_model(self, request: HttpRequest, obj: Order, form: forms.ModelForm, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only the fields staff changed (the address, the tracking): the status and the totals
        # belong to the services, and a payment arriving meanwhile must not be overwritten.
        edited = [name for name in form.changed_data if name != "mark_shipped"]
        if edited:
            obj.save(update_fields=[*edited, "updated"])
        if form.cleaned_data.get("mark_shipped"):
            try:
                services.order_mark_shipped(obj, tracking_number=obj.tracking_number, tracking_url=obj.tracking_url)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                obj.refresh_from_db()
                self.message_user(
                    request, f"Order {obj} marked shipped: the customer gets an e-mail.", messages.SUCCESS
                )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).prefetch_related("lines")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout

    @admin.display(description="Customer", ordering="email")
    def customer(self, order: Order) -> str:
        return f"{order.email} ({order.user.get_username()})" if order.user else f"{order.email} (guest)"

    @admin.display(description="Total", ordering="total")
    def total_display(self, order: Order) -> str:
        return money_format(order.total, order.currency)

    @admin.display(description="Payment OK", boolean=True)
    def payment_ok(self, order: Order) -> bool:
        return not order.payment_problem

    @admin.display(description="Shipping e-mail", boolean=True)
    def shipping_emailed(self, order: Order) -> bool | None:
        if order.status not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            return None
        return order.shipping_email_sent_at is not None

    @admin.display(description="Items")
    def item_count(self, order: Order) -> int:
        return order.item_count

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Order], action: Callable[[Order], Order], done: str
    ) -> None:
        changed = 0
        for order in queryset.order_by("pk"):
            try:
                action(order)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            except Exception as exc:  # the payment provider refused the refund: nothing changed
                self.message_user(request, f"Order {order}: {exc}", messages.ERROR)
                continue
            self.log_change(request, order, done)
            changed += 1
        if changed:
            self.message_user(request, f"{changed} order(s) {done.lower()}.", messages.SUCCESS)

    @admin.action(description="Mark selected orders shipped")
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(request, queryset, services.order_mark_shipped, "Marked shipped")

    @admin.action(description="Mark selected orders delivered")
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(request, queryset, services.order_mark_delivered, "Marked delivered")

    @admin.action(description="Cancel selected orders (stock returned)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(request, queryset, services.order_cancel, "Cancelled, stock returned")

    @admin.action(description="Refund selected orders (unshipped stock returned)")
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(request, queryset, services.order_refund, "Refunded")
