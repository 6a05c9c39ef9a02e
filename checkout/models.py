"""A payment of an order, through django-payments (PAYMENT_MODEL = "checkout.Payment")."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db import models
from django.urls import reverse
from payments import PurchasedItem
from payments.core import get_base_url
from payments.models import BasePayment

from orders.models import Order


class Payment(BasePayment):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")

    def _url(self, name: str) -> str:
        path = reverse(name, args=[self.order.number])
        # The dummy provider redirects within the site; real providers need absolute URLs.
        return path if self.variant == "dummy" else get_base_url() + path

    def get_failure_url(self) -> str:
        return self._url("checkout:payment_failed")

    def get_success_url(self) -> str:
        return self._url("checkout:thanks")

    def get_purchased_items(self) -> Iterator[PurchasedItem]:
        for line in self.order.lines.all():
            yield PurchasedItem(
                name=line.product_name,
                sku=f"{line.product_id or 0}-{line.size}",
                quantity=line.quantity,
                price=Decimal(line.unit_price),
                currency=self.currency,
            )
