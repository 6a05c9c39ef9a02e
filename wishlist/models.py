"""A customer's saved products (a guest's live in the session: wishlist.services)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from shop.models import Product


class WishlistItem(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wishlist_items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "wishlist item"
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="wishlist_one_per_product")]

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.product}"
