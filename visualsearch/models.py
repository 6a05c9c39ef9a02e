"""What visual search stores: one embedding per product (and one per more image), reindex jobs, the index change log
and the PCA projection every web process shares."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReindexJob(models.Model):
    """One staff-started reindex. Live counts come from the embedding rows it owns;
    the final counts are written here when it ends."""

    class Mode(models.TextChoices):
        MISSING = "missing", "Missing only"
        ALL = "all", "Everything"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    mode = models.CharField(max_length=10, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one running reindex: a second start is refused by the database itself.
            models.UniqueConstraint(fields=["state"], condition=Q(state="running"), name="one_running_reindex"),
        ]

    def __str__(self) -> str:
        return f"Reindex #{self.pk} ({self.get_mode_display()}, {self.get_state_display()})"


class ProductEmbedding(models.Model):
    """The current ResNet50 embedding of one product's image.

    The vector is stored as raw little-endian float32 bytes (2048 × 4 = 8 KiB): the index
    loads 43k of them with one ``np.frombuffer`` each, where a PostgreSQL float array
    would come back as 2048 Python floats per row. While a new embedding is pending or has
    failed, the previous vector stays and keeps serving searches.
    """

    product = models.OneToOneField("shop.Product", on_delete=models.CASCADE, primary_key=True, related_name="embedding")
    vector = models.BinaryField(null=True, blank=True)
    # The colour descriptor (visualsearch.ml.colour: 196 float16, 392 bytes) computed from
    # the same image as the vector; null for rows stored before it existed.
    colour = models.BinaryField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    source_checksum = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the image bytes the vector was computed from."
    )
    status = models.CharField(
        max_length=10, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    job = models.ForeignKey(ReindexJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="embeddings")
    requested_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["job", "status"], name="embedding_job_status")]

    def __str__(self) -> str:
        return f"Embedding of product {self.product_id} ({self.status})"

    def as_array(self) -> np.ndarray | None:
        if self.vector is None:
            return None
        return np.frombuffer(bytes(self.vector), dtype="<f4")

    def colour_array(self) -> np.ndarray | None:
        from visualsearch.ml.colour import from_bytes

        return from_bytes(self.colour)


class ImageEmbedding(models.Model):
    """The embedding of one of a product's more images (``shop.ProductImage``): photo search
    matches a product through any of its photos. Computed with the product's main image (the
    same task, reindex and checksum rule); find similar keeps using the main image's
    ``ProductEmbedding``. Deleting the image deletes this row (and its vector leaves the
    index at the next refresh: the deletion is announced for the product)."""

    image = models.OneToOneField(
        "shop.ProductImage", on_delete=models.CASCADE, primary_key=True, related_name="embedding"
    )
    product = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="image_embeddings")
    vector = models.BinaryField(null=True, blank=True)
    colour = models.BinaryField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    source_checksum = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=10, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Embedding of image {self.image_id} of product {self.product_id} ({self.status})"

    def as_array(self) -> np.ndarray | None:
        if self.vector is None:
            return None
        return np.frombuffer(bytes(self.vector), dtype="<f4")


class IndexChange(models.Model):
    """Append-only log of products whose searchable state changed (embedding, active flag,
    attributes, deletion). Each web process polls it past its own watermark, so a refresh
    reads only the changed rows."""

    id = models.BigAutoField(primary_key=True)
    product_id = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"change #{self.pk}: product {self.product_id}"


class Projection(models.Model):
    """The PCA projection the in-memory index stores its vectors in (fitted once per model
    version, shared by every process so that all of them rank identically)."""

    model_version = models.CharField(max_length=64)
    dims = models.PositiveSmallIntegerField()
    mean = models.BinaryField()
    components = models.BinaryField()
    fitted_on = models.PositiveIntegerField()
    explained_variance = models.FloatField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["model_version", "dims"], name="one_projection_per_model")]

    def __str__(self) -> str:
        return f"PCA {self.dims} for {self.model_version}"


class SimilarityHead(models.Model):
    """One trained similarity head (visualsearch.ml.head.SimilarityModel as bytes): what the
    index applies to the stored vectors for "find similar". Versioned: each training adds a
    row; at most one is active (the index follows it, and the model version shown includes it)."""

    backbone_version = models.CharField(max_length=64)
    weights = models.BinaryField()
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    training_seconds = models.FloatField(default=0.0)
    size_bytes = models.PositiveIntegerField(default=0)
    trained_on = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    # sha256 of what the training read (the products, their vectors and labels, the backbone)
    # and of its parameters: a retrain on unchanged data and settings reuses this head.
    fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_similarity_head"),
        ]

    def __str__(self) -> str:
        return f"Similarity head v{self.pk}" + (" (active)" if self.active else "")

    @property
    def version(self) -> str:
        return f"head-v{self.pk}"


class HeadTrainingJob(models.Model):
    """One "Retrain similarity" from the admin: its progress while it runs (the stage and the
    share done, written by the training), then its outcome: the head it stored or reused, and
    whether that head was activated and why."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Outcome(models.TextChoices):
        NONE = "", "—"
        ACTIVATED = "activated", "Activated"
        REFUSED = "refused", "Stored, not activated"
        REUSED = "reused", "Unchanged: existing head reused"

    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default=Outcome.NONE)
    stage = models.CharField(max_length=255, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1
    cancel_requested = models.BooleanField(default=False)
    head = models.ForeignKey(SimilarityHead, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    reason = models.TextField(blank=True)
    twins = models.JSONField(default=dict, blank=True)  # {"products": n, "groups": m}
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one retrain at a time: a second start is refused by the database itself.
            models.UniqueConstraint(fields=["state"], condition=Q(state="running"), name="one_running_head_training"),
        ]

    def __str__(self) -> str:
        return f"Retrain #{self.pk} ({self.get_state_display()})"


class IndexArtifact(models.Model):
    """A FAISS index artifact (visualsearch.index.artifact): built once by a worker, its files
    kept in Django's storage under ``path``, fetched and memory-mapped by every web host.
    Processes serve only the newest READY one whose model, projection and head match theirs."""

    class State(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=10, choices=State.choices, default=State.BUILDING, db_index=True)
    model_version = models.CharField(max_length=64)
    projection_id = models.BigIntegerField(null=True, blank=True)  # None: full 2048-dim vectors
    head_id = models.BigIntegerField(null=True, blank=True)  # None: find similar by the raw vectors
    factory = models.CharField(max_length=64, blank=True)
    rows = models.PositiveIntegerField(default=0)
    change_watermark = models.BigIntegerField(default=0)  # the change log read up to here
    path = models.CharField(max_length=255, blank=True)  # storage prefix of the files
    size_bytes = models.BigIntegerField(default=0)
    build_seconds = models.FloatField(default=0.0)
    # Per space ("raw", "similar"): the probe count tuned at build (visualsearch.index.tuning).
    tuning = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"index artifact v{self.pk} ({self.state}, {self.rows} rows)"

    @property
    def tuning_missed(self) -> list[str]:
        """The spaces whose tuning reached no target recall within the bound."""
        return [space for space, tuned in (self.tuning or {}).items() if not tuned.get("reached", True)]


class ItemLocaliser(models.Model):
    """One trained item localiser (visualsearch.ml.localiser.Localiser as bytes): what finds
    the items in a shopper's photo before photo search searches each. Versioned like the
    similarity head: each training adds a row with its figures on validation scenes; at most
    one is active (photo search uses it; none: the photo with uniform borders trimmed)."""

    backbone_version = models.CharField(max_length=64)
    weights = models.BinaryField()
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    training_seconds = models.FloatField(default=0.0)
    trained_on = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_item_localiser"),
        ]

    def __str__(self) -> str:
        return f"Item localiser v{self.pk}" + (" (active)" if self.active else "")

    @property
    def version(self) -> str:
        return f"localiser-v{self.pk}"
