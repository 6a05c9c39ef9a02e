"""Writes of the catalogue that are more than a plain save: announcing product changes, an
image's derivatives, and one spelling per attribute value. (Bringing products in is
``shop.importing``.)"""

from __future__ import annotations

import difflib
import hashlib
import time
from collections.abc import Sequence
from functools import partial

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from core.images import ImageRejected
from shop.attributes import ATTRIBUTES
from shop.models import CatalogueVersion, Product, ProductImage
from shop.signals import product_images_changed, products_changed
from shop.thumbnails import thumbnail_create


def catalogue_changes_announce(product_ids: Sequence[int], *, images_changed: Sequence[int] = ()) -> None:
    """The one way product changes are announced: bump the catalogue version (the key of
    the shop's cached counts, shared by every process through the database) and send the
    shop's signals to whoever subscribed."""
    ids = sorted({int(pid) for pid in product_ids} | {int(pid) for pid in images_changed})
    if not ids:
        return
    updated = CatalogueVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        # The first version is the time in microseconds, not 1: a database emptied and filled
        # again must not meet cached counts of an earlier catalogue under the same version.
        CatalogueVersion.objects.get_or_create(pk=1, defaults={"version": time.time_ns() // 1000})
    products_changed.send(sender=Product, product_ids=ids)
    if images_changed:
        product_images_changed.send(sender=Product, product_ids=sorted({int(pid) for pid in images_changed}))


def product_image_derivatives_update(product: Product | ProductImage) -> None:
    """After a new image was saved (a product's main image or one of its more images):
    record its checksum and make its grid thumbnail."""
    image_name = product.image.name
    if not image_name:  # the same test as ``not product.image``: a FieldFile is falsy without a name
        return
    with default_storage.open(image_name, "rb") as handle:
        data = handle.read()
    old_thumbnail = product.thumbnail.name
    try:
        thumbnail = thumbnail_create(image_name, data)
    except ImageRejected:
        thumbnail = ""
    product.image_checksum = hashlib.sha256(data).hexdigest()
    product.thumbnail = thumbnail
    type(product).objects.filter(pk=product.pk).update(image_checksum=product.image_checksum, thumbnail=thumbnail)
    if old_thumbnail and old_thumbnail != thumbnail:
        default_storage.delete(old_thumbnail)


def product_image_make_main(extra: ProductImage) -> None:
    """Make one of a product's more images its main image: the two swap places (files,
    thumbnails and checksums), so the former main image stays in the gallery where the new
    one was. The caller announces the product's images as changed."""
    product = Product.objects.select_for_update().get(pk=extra.product_id)
    main = (product.image.name, product.thumbnail.name, product.image_checksum)
    Product.objects.filter(pk=product.pk).update(
        image=extra.image.name,
        thumbnail=extra.thumbnail.name,
        image_checksum=extra.image_checksum,
        updated=timezone.now(),
    )
    ProductImage.objects.filter(pk=extra.pk).update(image=main[0], thumbnail=main[1], image_checksum=main[2])


def product_images_delete_files(images: Sequence[ProductImage]) -> None:
    """Remove deleted images' files (and thumbnails) from storage once the deletion commits."""
    for image in images:
        for name in (image.image.name, image.thumbnail.name):
            if name:
                transaction.on_commit(partial(default_storage.delete, name))


# --- Attribute values: one spelling per value ----------------------------------------------

# The free-text attributes staff and the import fill in (the facets shoppers filter on).
ATTRIBUTE_TEXT_FIELDS: tuple[str, ...] = tuple(a.field for a in ATTRIBUTES)


def attribute_value_clean(value: str | None) -> str:
    """Trimmed, with every run of whitespace one space: "  Navy   Blue " → "Navy Blue"."""
    return " ".join((value or "").split())


def attribute_values(field: str) -> list[str]:
    """The distinct values of an attribute in the catalogue, sorted (for the admin's choices)."""
    values = Product.objects.exclude(**{field: ""}).values_list(field, flat=True).distinct().order_by(field)
    return list(values)


class AttributeSpellings:
    """Matches attribute values case-insensitively to the catalogue's spelling of them: "men "
    → "Men" when products say "Men". Where the catalogue already spells a value several ways,
    the most used spelling wins. Values not in the catalogue yet are remembered as first
    spelled, so that one import cannot bring in "Men" and "men" either."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, str]] = {}

    def _spellings(self, field: str) -> dict[str, str]:
        if field not in self._known:
            known: dict[str, str] = {}
            rows = Product.objects.exclude(**{field: ""}).values(field).annotate(n=Count("pk")).order_by("-n", field)
            for row in rows:
                known.setdefault(row[field].casefold(), row[field])
            self._known[field] = known
        return self._known[field]

    def existing(self, field: str, value: str | None) -> str | None:
        """The catalogue's spelling of this value, or None when it is new."""
        cleaned = attribute_value_clean(value)
        return self._spellings(field).get(cleaned.casefold()) if cleaned else None

    def has_values(self, field: str) -> bool:
        return bool(self._spellings(field))

    def canonical(self, field: str, value: str | None) -> str:
        """The value to store: cleaned, and spelled as the catalogue (or this run) spells it."""
        cleaned = attribute_value_clean(value)
        if not cleaned:
            return ""
        return self._spellings(field).setdefault(cleaned.casefold(), cleaned)

    def suggestions(self, field: str, value: str, n: int = 3) -> list[str]:
        spellings = self._spellings(field)
        close = difflib.get_close_matches(attribute_value_clean(value).casefold(), list(spellings), n=n, cutoff=0.6)
        return [spellings[key] for key in close]
