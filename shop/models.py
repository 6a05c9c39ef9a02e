"""The catalogue: products with their category levels, colour and images."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.functional import cached_property

from core.storage import private_storage


class Product(models.Model):
    """One catalogue product.

    The three category levels (master → sub → article type) are plain indexed columns on
    the product: the catalogue's taxonomy is fixed by the import, and filters, facet counts
    and admin list filters then need no join.
    """

    external_id = models.CharField(
        "catalogue id",
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        help_text="The product's id in the source catalogue (styles.csv). Empty for products added by staff.",
    )
    name = models.CharField(max_length=255)
    gender = models.CharField(max_length=20, db_index=True)
    master_category = models.CharField(max_length=50, db_index=True)
    sub_category = models.CharField(max_length=50, db_index=True)
    article_type = models.CharField(max_length=50, db_index=True)
    base_colour = models.CharField("colour", max_length=30, blank=True, db_index=True)
    season = models.CharField(max_length=20, blank=True, db_index=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    usage = models.CharField(max_length=30, blank=True, db_index=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True, db_index=True)
    # A sale: the former price, shown struck through beside the price. Only above the price.
    compare_at_price = models.DecimalField(
        "compare-at price",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="On sale: the former price, shown struck through with the discount. Must be above the "
        "price; empty when the product is not on sale.",
    )
    image = models.ImageField(upload_to="products/", max_length=255)
    image_checksum = models.CharField(
        max_length=64, blank=True, editable=False, help_text="sha256 of the image file's bytes."
    )
    thumbnail = models.ImageField(upload_to="thumbs/", max_length=255, blank=True, editable=False)
    is_active = models.BooleanField("active", default=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["master_category", "sub_category", "article_type"], name="product_category_path"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(price__isnull=False, compare_at_price__gt=F("price")),
                name="product_compare_at_above_price",
                violation_error_message="The compare-at price must be above the price (leave it empty when the "
                "product is not on sale).",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", args=[self.pk])

    @cached_property
    def variant_list(self) -> list[ProductVariant]:
        """The sizes, in order: the prefetched ones (``prefetch_related("variants")``) or one
        query, once per instance however many templates ask."""
        return list(self.variants.all())

    @property
    def in_stock(self) -> bool:
        """Whether any size can be bought."""
        return any(variant.stock > 0 for variant in self.variant_list)

    @property
    def has_sizes(self) -> bool:
        return bool(self.variant_list)

    @property
    def sold_out(self) -> bool:
        """Whether the product has sizes and none of them can be bought."""
        return self.has_sizes and not self.in_stock

    @property
    def on_sale(self) -> bool:
        """Whether the product is on sale: a compare-at price above its price."""
        return self.price is not None and self.compare_at_price is not None and self.compare_at_price > self.price

    @property
    def discount_percent(self) -> int | None:
        """The sale's discount in whole percent (at least 1), None when not on sale."""
        if not self.on_sale:
            return None
        assert self.price is not None and self.compare_at_price is not None
        percent = (self.compare_at_price - self.price) * 100 / self.compare_at_price
        return max(1, int(percent.quantize(Decimal(1), rounding=ROUND_HALF_UP)))

    @property
    def card_image_url(self) -> str:
        """The thumbnail for grids, falling back to the image itself."""
        field = self.thumbnail or self.image
        return field.url if field else ""

    @cached_property
    def gallery(self) -> list[GalleryPhoto]:
        """Every photo of the product for its page: the main image first, then the extra
        images in their order (the prefetched ones, ``prefetch_related("images")``, or one query)."""
        photos = []
        if self.image:
            photos.append(GalleryPhoto(self.image.url, self.card_image_url, self.name))
        extras = list(self.images.all())
        for number, extra in enumerate(extras, start=2):
            if extra.image:
                alt = extra.alt_text or f"{self.name}, photo {number}"
                photos.append(GalleryPhoto(extra.image.url, extra.card_image_url, alt))
        return photos


@dataclass(frozen=True)
class GalleryPhoto:
    """One photo of a product's gallery, as the page shows it."""

    url: str
    thumbnail_url: str
    alt: str


class ProductImage(models.Model):
    """One more photo of a product (a back, a detail, a model shot): shown in its gallery
    after the main image (``Product.image``, what grids, find similar and the API show) in
    ``position`` order, and embedded like it, so that photo search finds the product through
    any of its photos. Staff make one the main image in the admin (the files swap places)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="products/", max_length=255)
    image_checksum = models.CharField(
        max_length=64, blank=True, editable=False, help_text="sha256 of the image file's bytes."
    )
    thumbnail = models.ImageField(upload_to="thumbs/", max_length=255, blank=True, editable=False)
    alt_text = models.CharField(
        "description",
        max_length=200,
        blank=True,
        help_text="What the photo shows, read out to shoppers who cannot see it (e.g. “Back view”).",
    )
    position = models.PositiveSmallIntegerField("order", default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "photo"
        verbose_name_plural = "more photos"

    def __str__(self) -> str:
        return f"{self.product.name}: photo {self.position}"

    @property
    def card_image_url(self) -> str:
        field = self.thumbnail or self.image
        return field.url if field else ""


class ProductVariant(models.Model):
    """One size of a product, with its own stock. A one-size accessory has one variant
    ("One size"). Stock only changes through services that lock the row (orders, admin)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    size = models.CharField(max_length=20)
    sort_order = models.PositiveSmallIntegerField(default=0)
    stock = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "size"], name="variant_unique_product_size"),
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="variant_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} — {self.size}"

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class CatalogueVersion(models.Model):
    """One row whose number goes up whenever products change (``catalogue_changes_announce``):
    the key of the shop's cached facet counts, read by every process in one query."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalogue version {self.version}"


class ImportJob(models.Model):
    """Staff's bulk import from the admin: a CSV in the import's columns (styles.csv) and a zip
    of the images, run by ``shop.importing.jobs.import_job_run`` through ``catalogue_import`` (a Celery
    task with a broker, the process's background thread without). The uploads are kept in
    storage until the job has run; counts and per-row errors are written as it goes."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    # Kept in private storage (never served) under random names until the job ends.
    csv_file = models.FileField(upload_to="imports/", storage=private_storage, max_length=255, blank=True)
    images_zip = models.FileField(upload_to="imports/", storage=private_storage, max_length=255, blank=True)
    csv_name = models.CharField("CSV file", max_length=255, blank=True)
    zip_name = models.CharField("images zip", max_length=255, blank=True)
    compute_embeddings = models.BooleanField(default=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField(default=0, help_text="Rows in the CSV.")
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField("created", default=0)
    updated_count = models.PositiveIntegerField("updated", default=0)
    unchanged_count = models.PositiveIntegerField("unchanged", default=0)
    skipped_count = models.PositiveIntegerField("skipped", default=0)
    # [{"line": 12, "id": "1234", "reason": "image 1234.jpg is missing"}, …] (the first 1000)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, help_text="Why the job failed, or a note about its files.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "product import"

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.csv_name or 'CSV'})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> float:
        if self.state == self.State.DONE:
            return 100.0
        return min(100.0, 100.0 * self.processed / self.total) if self.total else 0.0
