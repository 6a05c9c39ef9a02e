"""A shopper's wish to be told when a sold-out product (or one size of it) is back."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from shop.models import Product, ProductVariant


class StockAlert(models.Model):
    """One "notify me": an e-mail address, a product and optionally one size (no size: any
    size coming back will do). Waiting until ``notified_at`` (the one e-mail went) or
    ``unsubscribed_at``; one waiting alert per address, product and size."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        NOTIFIED = "notified", "Notified"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_alerts")
    variant = models.ForeignKey(
        ProductVariant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="stock_alerts",
        verbose_name="size",
        help_text="Empty: any size.",
    )
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "back-in-stock alert"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "email"],
                condition=models.Q(status="waiting", variant__isnull=True),
                name="stockalert_one_waiting_per_product",
            ),
            models.UniqueConstraint(
                fields=["variant", "email"],
                condition=models.Q(status="waiting", variant__isnull=False),
                name="stockalert_one_waiting_per_size",
            ),
        ]
        indexes = [
            models.Index(fields=["product"], condition=models.Q(status="waiting"), name="stockalert_waiting_product"),
        ]

    def __str__(self) -> str:
        size = f" ({self.variant.size})" if self.variant_id and self.variant else ""
        return f"{self.email} → {self.product}{size}"


class ProductAlerts(Product):
    """The products as staff see them from the alerts' side: how many shoppers wait for each
    (the admin's "Back-in-stock alerts by product")."""

    class Meta:
        proxy = True
        verbose_name = "product with alerts"
        verbose_name_plural = "alerts by product"
