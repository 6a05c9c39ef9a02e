"""Signal receivers: product saves and deletes reach the embeddings and the search indexes.

Saving a product with a new or changed image, from the admin, the import or any code,
queues its embedding after the transaction commits. Every save or delete is written to the
index change log so each web process's index picks it up (active flag, attributes).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from shop.models import Product
from visualsearch import services


@receiver(post_init, sender=Product)
def remember_image_name(sender: type[Product], instance: Product, **kwargs: object) -> None:
    instance._loaded_image_name = instance.__dict__.get("image") and str(instance.__dict__["image"])


@receiver(post_save, sender=Product)
def product_saved(sender: type[Product], instance: Product, created: bool, raw: bool = False, **kwargs: object) -> None:
    if raw:
        return
    services.index_changes_record([instance.pk])
    image_name = instance.image.name if instance.image else ""
    if image_name and (created or image_name != getattr(instance, "_loaded_image_name", None)):
        services.embeddings_schedule([instance.pk])
    instance._loaded_image_name = image_name


@receiver(post_delete, sender=Product)
def product_deleted(sender: type[Product], instance: Product, **kwargs: object) -> None:
    services.index_changes_record([instance.pk])
