"""Reads of the bag: its lines at today's prices, each flagged when it cannot be bought as it
is (product gone, sold out, fewer left, price changed), and the totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from bag.models import Bag, BagLine
from shop.models import Product, ProductVariant


@dataclass
class BagLineView:
    line: BagLine
    product: Product
    variant: ProductVariant
    quantity: int
    unit_price: Decimal | None
    sizes: list[ProductVariant]
    problem: str = ""  # why it cannot be bought as it is; "" when it can
    price_was: Decimal | None = None  # the price when added, when it changed since

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price or Decimal("0")) * self.quantity

    @property
    def buyable(self) -> bool:
        return not self.problem


@dataclass
class BagSummary:
    lines: list[BagLineView] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines if line.buyable), Decimal("0.00"))

    @property
    def has_problems(self) -> bool:
        return any(line.problem for line in self.lines)

    @property
    def price_changes(self) -> list[BagLineView]:
        return [line for line in self.lines if line.price_was is not None]

    @property
    def is_empty(self) -> bool:
        return not self.lines


def bag_summary(bag: Bag | None) -> BagSummary:
    if bag is None:
        return BagSummary()
    lines = list(bag.lines.select_related("variant__product").prefetch_related("variant__product__variants"))
    views = []
    for line in lines:
        variant, product = line.variant, line.variant.product
        if not product.is_active or product.price is None:
            problem = "No longer available"
        elif variant.stock <= 0:
            problem = "Sold out in this size"
        elif variant.stock < line.quantity:
            problem = f"Only {variant.stock} left in this size"
        else:
            problem = ""
        price_was = (
            line.price_when_added
            if line.price_when_added is not None
            and product.price is not None
            and line.price_when_added != product.price
            else None
        )
        views.append(
            BagLineView(
                line=line,
                product=product,
                variant=variant,
                quantity=line.quantity,
                unit_price=product.price,
                sizes=list(product.variants.all()),
                problem=problem,
                price_was=price_was,
            )
        )
    return BagSummary(views)


def bag_item_count(bag_id: int | None = None, *, user_id: int | None = None) -> int:
    """Units in a bag, for the header badge (one small query)."""
    if user_id is not None:
        lines = BagLine.objects.filter(bag__user_id=user_id)
    elif bag_id is not None:
        lines = BagLine.objects.filter(bag_id=bag_id, bag__user__isnull=True)
    else:
        return 0
    return lines.aggregate(n=Sum("quantity"))["n"] or 0
