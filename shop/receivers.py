"""The shop's own model signals, turned into its announcements (shop.signals).

Saving a product from the admin, the import or any code announces it; a new or changed
image is announced as such. Bulk writes (the import, admin actions) call
``catalogue_changes_announce`` themselves."""

from __future__ import annotations

from django.db import connections
from django.db.models.signals import post_delete, post_init, post_migrate, post_save
from django.dispatch import receiver

from shop.models import Product
from shop.search import sqlite as search_sqlite
from shop.services import catalogue_changes_announce


@receiver(post_init, sender=Product)
def remember_image_name(sender: type[Product], instance: Product, **kwargs: object) -> None:
    image = instance.__dict__.get("image")
    instance._loaded_image_name = str(image) if image else None  # type: ignore[attr-defined]


@receiver(post_save, sender=Product)
def product_saved(sender: type[Product], instance: Product, created: bool, raw: bool = False, **kwargs: object) -> None:
    if raw:
        return
    image_name = instance.image.name if instance.image else ""
    image_changed = bool(image_name) and (created or image_name != getattr(instance, "_loaded_image_name", None))
    catalogue_changes_announce([instance.pk], images_changed=[instance.pk] if image_changed else [])
    instance._loaded_image_name = image_name  # type: ignore[attr-defined]


@receiver(post_delete, sender=Product)
def product_deleted(sender: type[Product], instance: Product, **kwargs: object) -> None:
    catalogue_changes_announce([instance.pk])


@receiver(post_migrate)
def search_table_kept(sender: object, using: str = "default", **kwargs: object) -> None:
    """SQLite: a migration that alters ``shop_product`` remakes the table, dropping the search
    table's triggers; put them back (and refill the search table) after every migrate."""
    from django.apps import apps

    if sender is not apps.get_app_config("shop"):
        return
    connection = connections[using]
    if search_sqlite.fts_installed(connection):
        search_sqlite.fts_install(connection)
