"""Checkout's reads: the order summary shown beside every step. Steps 1–3 summarise the bag
as checkout_quote prices it (the one place that computes the totals); the payment step
summarises the order placed from it (its snapshot of what was bought, as charged)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from checkout.services import Quote
from orders.models import Order
from shop.conf import shop_settings


@dataclass(frozen=True)
class SummaryLine:
    name: str
    size: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    image_url: str
    problem: str = ""


@dataclass(frozen=True)
class CheckoutSummary:
    lines: list[SummaryLine]
    subtotal: Decimal
    shipping_name: str  # "" until a delivery option is chosen
    shipping_cost: Decimal
    total: Decimal
    currency: str

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def shipping_chosen(self) -> bool:
        return bool(self.shipping_name)


def checkout_summary_from_quote(quote: Quote) -> CheckoutSummary:
    lines = [
        SummaryLine(
            name=line.product.name,
            size=line.variant.size,
            quantity=line.quantity,
            unit_price=line.unit_price or Decimal("0.00"),
            line_total=line.line_total,
            image_url=line.product.card_image_url,
            problem=line.problem,
        )
        for line in quote.bag.lines
    ]
    return CheckoutSummary(
        lines=lines,
        subtotal=quote.bag.subtotal,
        shipping_name=quote.shipping.name if quote.shipping else "",
        shipping_cost=quote.shipping_cost,
        total=quote.total,
        currency=shop_settings.CURRENCY,
    )


def checkout_summary_from_order(order: Order) -> CheckoutSummary:
    lines = [
        SummaryLine(
            name=line.product_name,
            size=line.size,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=line.line_total,
            image_url=line.image_url,
        )
        for line in order.lines.all()
    ]
    return CheckoutSummary(
        lines=lines,
        subtotal=order.subtotal,
        shipping_name=order.shipping_method_name,
        shipping_cost=order.shipping_cost,
        total=order.total,
        currency=order.currency,
    )
