"""Orders snapshot what was bought (name, size, unit price, image) so that later catalogue
edits never change history; the product and size links are kept only as long as they exist."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse

from shop.models import Product, ProductVariant


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    PAID = "paid", "Paid"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    email = models.EmailField()
    # Shipping address.
    full_name = models.CharField(max_length=150)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=20)
    country = models.CharField(max_length=60)
    phone = models.CharField(max_length=30, blank=True)
    # Shipping method and totals, as charged.
    shipping_method = models.CharField(max_length=30)
    shipping_method_name = models.CharField(max_length=80)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_cost = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT, db_index=True
    )
    # One checkout submission = one order, however often it is sent (double click, refresh, retry).
    idempotency_key = models.CharField(max_length=64, unique=True)
    # The order's units went back to stock (cancelled, or never paid in time).
    stock_released = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # A payment that did not match the order (another amount or currency): the order stays
    # unpaid and staff look at it (the admin lists and filters these).
    payment_problem = models.CharField(max_length=500, blank=True)
    # Shipping: when staff marked it shipped, the carrier's tracking (optional), and when the
    # shipping e-mail went (it goes once, however often the task runs).
    shipped_at = models.DateTimeField(null=True, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField("tracking link", max_length=500, blank=True)
    shipping_email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("accounts:order_detail", args=[self.number])

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.all())


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    variant = models.ForeignKey(ProductVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_name = models.CharField(max_length=255)
    size = models.CharField(max_length=20)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    image_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_name} ({self.size})"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def image_url(self) -> str:
        if not self.image_name:
            return ""
        from django.core.files.storage import default_storage

        return default_storage.url(self.image_name)
