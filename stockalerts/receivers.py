"""Stock changes come from the shop's ``products_changed`` (admin sizes inline, orders placed,
cancelled or released, the import's demo stock, bulk (de)activation): after the change commits,
products somebody waits for are checked by a task."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from shop.signals import products_changed
from stockalerts.selectors import stock_alerts_waiting_exist


@receiver(products_changed)
def alerts_check_on_stock_change(sender: object, product_ids: list[int], **kwargs: object) -> None:
    ids = sorted({int(pid) for pid in product_ids})

    def queue() -> None:
        if stock_alerts_waiting_exist(ids):
            from stockalerts.tasks import stock_alerts_send

            stock_alerts_send.delay(ids)

    transaction.on_commit(queue)
