"""Writes of the catalogue that are more than a plain save."""

from __future__ import annotations

import hashlib

from django.core.files.storage import default_storage

from shop.models import Product
from shop.thumbnails import thumbnail_create
from visualsearch.imaging import ImageRejected


def product_image_derivatives_update(product: Product) -> None:
    """After a new image was saved: record its checksum and make its grid thumbnail."""
    if not product.image:
        return
    with default_storage.open(product.image.name, "rb") as handle:
        data = handle.read()
    old_thumbnail = product.thumbnail.name
    try:
        thumbnail = thumbnail_create(product.image.name, data)
    except ImageRejected:
        thumbnail = ""
    product.image_checksum = hashlib.sha256(data).hexdigest()
    product.thumbnail = thumbnail
    Product.objects.filter(pk=product.pk).update(image_checksum=product.image_checksum, thumbnail=thumbnail)
    if old_thumbnail and old_thumbnail != thumbnail:
        default_storage.delete(old_thumbnail)
