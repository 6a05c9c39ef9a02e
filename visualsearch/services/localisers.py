"""Training, activating and rolling back the item localiser (``visualsearch.ml.localiser``):
what finds the items in a shopper's photo.

``localiser_train`` trains one on generated scenes of training products (its thresholds and
figures from scenes of validation products; the evaluation split never), stores it as a new
``ItemLocaliser`` version and activates it when it finds items at least as well as the active
one, both measured on the same validation scenes and product photos (or none is active). The
command ``train_localiser`` and the Celery task ``train_item_localiser`` call it;
``localiser_activate`` and ``localiser_rollback`` switch versions (the admin's actions,
``train_localiser --rollback``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone
from PIL import Image

from shop.models import Product
from visualsearch.ml.head import split_of
from visualsearch.ml.localiser import Localiser
from visualsearch.ml.localiser_training import Progress, TrainingOptions, train_localiser
from visualsearch.models import ItemLocaliser
from visualsearch.selectors import localiser_active


class NotEnoughProducts(ValueError):
    """Too few products with images in the training or validation split to train on."""


@dataclass(frozen=True)
class LocaliserTraining:
    """What a training did: the stored version, whether it is now active, and why."""

    localiser: ItemLocaliser
    activated: bool
    reason: str


def _quality(metrics: dict[str, float]) -> float:
    """What activation compares: items found on the validation scenes (one- and two-item),
    less the share of validation product photos cut into several boxes."""
    found = float(metrics.get("first_box_iou50", 0.0)) + float(metrics.get("two_item_recall", 0.0))
    return found - float(metrics.get("product_photo_split", 0.0))


def _incumbent(current: ItemLocaliser | None, backbone_version: str) -> tuple[Localiser | None, str]:
    """The active localiser loaded, to be measured against, or None and why the new one replaces
    it whatever it scores: none is active, it was made for other weights (it reads other feature
    maps), or its stored format cannot be read."""
    if current is None:
        return None, "no localiser was active"
    if current.backbone_version != backbone_version:
        return None, "the active one was made for other weights"
    try:
        return Localiser.from_bytes(current.weights), ""
    except ValueError:
        return None, "the active one could not be read"


def _product_images() -> tuple[list[int], list[int], Callable[[int], Image.Image]]:
    rows = list(Product.objects.filter(is_active=True).exclude(image="").values_list("pk", "image"))
    paths = {int(pk): name for pk, name in rows}
    ids = np.asarray(sorted(paths), dtype=np.int64)
    split = split_of(ids) if len(ids) else np.asarray([], dtype="<U5")
    storage = Product._meta.get_field("image").storage

    def load(pid: int) -> Image.Image:
        with storage.open(paths[pid], "rb") as handle, Image.open(handle) as image:
            return image.convert("RGB")

    return ids[split == "train"].tolist(), ids[split == "val"].tolist(), load


def localiser_train(
    options: TrainingOptions | None = None, *, progress: Progress | None = None, activate: bool = True
) -> LocaliserTraining:
    """Train a localiser on the catalogue's images, store it as a new version and (``activate``)
    make it active when it is at least as good as the active one. NotEnoughProducts when a
    split has too few products with images."""
    from visualsearch.ml import embedder

    options = options or TrainingOptions()
    train_ids, validation_ids, load = _product_images()
    if len(train_ids) < 20 or len(validation_ids) < 5:
        raise NotEnoughProducts(
            f"Training the item localiser needs at least 20 training and 5 validation products with "
            f"images; the catalogue has {len(train_ids)} and {len(validation_ids)}."
        )
    started = time.perf_counter()
    backbone = embedder.model_version()
    current = localiser_active()
    incumbent, replaces = _incumbent(current, backbone)
    trained = train_localiser(
        train_ids,
        validation_ids,
        load,
        lambda batch: embedder.embed_with_features(batch)[1],
        options,
        progress,
        incumbent=incumbent,
    )
    localiser = trained.localiser
    params: dict[str, object] = {
        "threshold": localiser.threshold,
        "split_threshold": localiser.split_threshold,
        "split_core": localiser.split_core,
        "scenes": options.scenes,
        "validation_scenes": options.validation_scenes,
        "product_photos": options.product_photos,
        "seed": options.seed,
    }
    if current is not None and trained.incumbent_figures is not None:
        # The active version re-measured on this training's validation data: what activation
        # compared, kept with the new version (its own stored figures came from other scenes).
        params["compared_with"] = {"version": current.version, "metrics": trained.incumbent_figures}
    row = ItemLocaliser.objects.create(
        backbone_version=backbone,
        weights=localiser.to_bytes(),
        metrics=localiser.metrics,
        params=params,
        training_seconds=round(time.perf_counter() - started, 1),
        trained_on=len(train_ids),
    )
    if not activate:
        return LocaliserTraining(row, False, "not activated (--no-activate)")
    if current is None or trained.incumbent_figures is None:
        return LocaliserTraining(localiser_activate(row), True, replaces)
    ours, theirs = _quality(row.metrics), _quality(trained.incumbent_figures)
    if ours >= theirs:
        return LocaliserTraining(
            localiser_activate(row),
            True,
            f"finds items as well or better than {current.version} on the same validation scenes "
            f"({ours:.3f} ≥ {theirs:.3f})",
        )
    return LocaliserTraining(
        row,
        False,
        f"finds fewer items than {current.version} on the same validation scenes ({ours:.3f} < {theirs:.3f})",
    )


def localiser_activate(localiser: ItemLocaliser | int) -> ItemLocaliser:
    """Make this localiser the one photo search uses."""
    pk = localiser if isinstance(localiser, int) else localiser.pk
    with transaction.atomic():
        row = ItemLocaliser.objects.select_for_update().get(pk=pk)
        ItemLocaliser.objects.filter(active=True).exclude(pk=pk).update(active=False)
        if not row.active:
            row.active = True
            row.activated_at = timezone.now()
            row.save(update_fields=["active", "activated_at"])
    return row


def localiser_rollback() -> ItemLocaliser | None:
    """Go back to the localiser active before the current one (None: no localiser, photo
    search trims uniform borders as before); the current one leaves that history."""
    with transaction.atomic():
        current = localiser_active()
        if current is not None:
            ItemLocaliser.objects.filter(pk=current.pk).update(
                active=False,
                activated_at=None,
                note=f"{current.note}\nrolled back {timezone.now():%Y-%m-%d %H:%M} UTC".strip(),
            )
        previous = ItemLocaliser.objects.filter(activated_at__isnull=False).order_by("-activated_at", "-pk").first()
        return None if previous is None else localiser_activate(previous)
