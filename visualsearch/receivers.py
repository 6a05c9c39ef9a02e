"""Visual search listens to the shop's announcements (shop.signals): every changed product
is written to the index change log, every new or replaced image gets its embedding
scheduled (computed after the transaction commits). The one mechanism for all paths:
admin, import, code, bulk actions."""

from __future__ import annotations

from collections.abc import Sequence

from django.dispatch import receiver

from shop.signals import product_images_changed, products_changed
from visualsearch.services.changelog import index_changes_record
from visualsearch.services.embeddings import embeddings_schedule


@receiver(products_changed)
def record_index_changes(sender: object, product_ids: Sequence[int], **kwargs: object) -> None:
    index_changes_record(product_ids)


@receiver(product_images_changed)
def schedule_embeddings(sender: object, product_ids: Sequence[int], **kwargs: object) -> None:
    embeddings_schedule(product_ids)
