"""A bag holds sizes (shop.ProductVariant) and quantities. An anonymous shopper's bag is
referenced from their session; a customer's bag is theirs (one per user)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from shop.models import ProductVariant


class Bag(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="bag"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"bag of {self.user}" if self.user_id else f"anonymous bag {self.pk}"


class BagLine(models.Model):
    bag = models.ForeignKey(Bag, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(ProductVariant, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    # The price the shopper saw when adding: the bag and checkout say when it changed.
    price_when_added = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bag", "variant"], name="bag_line_unique_variant"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="bag_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant}"
