"""What insights record: one row per shopper event, the "nothing close" photos (vector and a
small preview, for a limited time) and the pairs staff said are different products."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EventKind(models.TextChoices):
    TEXT = "text", "Text search"
    SIMILAR = "similar", "Find similar"
    PHOTO = "photo", "Photo search"
    CLICK = "click", "Click-through"
    BAG = "bag", "Add to bag"
    ORDER = "order", "Order"


VISUAL_KINDS = (EventKind.SIMILAR, EventKind.PHOTO)


class SearchEvent(models.Model):
    """A search, or something a shopper did after a visual search (``via``: which kind)."""

    kind = models.CharField(max_length=10, choices=EventKind.choices)
    at = models.DateTimeField()
    via = models.CharField(max_length=10, blank=True, help_text="The visual search that led to it.")
    product = models.ForeignKey("shop.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.CharField(max_length=200, blank=True)
    results = models.PositiveIntegerField(null=True, blank=True)
    nothing_close = models.BooleanField(default=False)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revenue = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        # The admin index's entry opens the dashboard (insights.admin).
        verbose_name = "dashboard"
        verbose_name_plural = "Dashboard: what visual search sells"
        indexes = [models.Index(fields=["kind", "at"], name="insights_event_kind_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(kind="order"), name="insights_one_event_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class UnmatchedPhoto(models.Model):
    """A shopper's photo that found nothing close: its vector and (unless turned off) a preview
    of at most INSIGHTS_PREVIEW_PIXELS, never the photo. Deleted after INSIGHTS_RETENTION_DAYS."""

    at = models.DateTimeField(db_index=True)
    vector = models.BinaryField(help_text="float32 little-endian, the query's embedding.")
    preview = models.BinaryField(null=True, blank=True, help_text="JPEG, at most 96 px.")

    def __str__(self) -> str:
        return f"Photo with nothing close, {self.at:%Y-%m-%d %H:%M}"


class DistinctPair(models.Model):
    """Two products with the same or nearly the same picture that staff marked as different
    products: the duplicates page no longer lists them. ``first`` has the smaller id."""

    first = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="+")
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "pair marked as different products"
        verbose_name_plural = "pairs marked as different products"
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="insights_distinct_pair_once"),
            models.CheckConstraint(condition=models.Q(first__lt=models.F("second")), name="insights_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.first_id} ≠ {self.second_id}"
