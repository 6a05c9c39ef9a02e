"""Writes of the catalogue that are more than a plain save."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from core.images import ImageRejected
from shop.models import CatalogueVersion, Product, ProductVariant
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
        CatalogueVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    products_changed.send(sender=Product, product_ids=ids)
    if images_changed:
        product_images_changed.send(sender=Product, product_ids=sorted({int(pid) for pid in images_changed}))


def product_image_derivatives_update(product: Product) -> None:
    """After a new image was saved: record its checksum and make its grid thumbnail."""
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
    Product.objects.filter(pk=product.pk).update(image_checksum=product.image_checksum, thumbnail=thumbnail)
    if old_thumbnail and old_thumbnail != thumbnail:
        default_storage.delete(old_thumbnail)


def demo_prices_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no price a deterministic demo price (shop.demo_data).
    Staff-set prices are kept. Returns how many products got one."""
    from shop.demo_data import demo_price

    products = Product.objects.filter(price__isnull=True, external_id__isnull=False)
    if external_ids is not None:
        products = products.filter(external_id__in=list(external_ids))
    changed: list[Product] = []
    for product in products.only("pk", "external_id", "article_type", "master_category").iterator(chunk_size=2000):
        product.price = demo_price(product.article_type, product.master_category, product.external_id or "")
        changed.append(product)
    with transaction.atomic():
        Product.objects.bulk_update(changed, ["price"], batch_size=2000)
        catalogue_changes_announce([p.pk for p in changed])
    return len(changed)


def demo_stock_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no sizes yet deterministic demo sizes and stock
    (shop.demo_data). Returns how many products got sizes."""
    from shop.demo_data import demo_sizes, demo_stock

    products = Product.objects.filter(external_id__isnull=False, variants__isnull=True)
    if external_ids is not None:
        products = products.filter(external_id__in=list(external_ids))
    variants: list[ProductVariant] = []
    ids: list[int] = []
    for product in products.only("pk", "external_id", "article_type", "master_category").iterator(chunk_size=2000):
        sizes = demo_sizes(product.master_category, product.article_type)
        stock = demo_stock(product.external_id or "", sizes)
        variants += [
            ProductVariant(product_id=product.pk, size=size, sort_order=i, stock=stock[size])
            for i, size in enumerate(sizes)
        ]
        ids.append(product.pk)
    with transaction.atomic():
        ProductVariant.objects.bulk_create(variants, batch_size=5000, ignore_conflicts=True)
        catalogue_changes_announce(ids)
    return len(ids)
