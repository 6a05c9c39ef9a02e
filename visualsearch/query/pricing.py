"""Price-aware lookalikes: "Similar, but cheaper", price bounds and the price sort.

The candidates are still chosen by look: a search that restricts the price asks the index for
the nearest VISUALSEARCH_PRICE_CANDIDATES products (not only k), keeps those within the
price, best look first, and cuts to k; the price sort then orders those k (it never brings in
a cheaper but less alike product). The index knows nothing of prices; they are the shop's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import InvalidInput
from visualsearch.conf import vs_settings
from visualsearch.index import Hit
from visualsearch.selectors import SimilarProduct, product_prices, refinement_on

CHEAPER_PARAM = "cheaper"
CHEAPER_LABEL = "Similar, but cheaper"
MAX_PRICE_PARAM = "max_price"
MIN_PRICE_PARAM = "min_price"
SORT_PARAM = "sort"
# The result orders: by look (the default), or the best lookalikes by price.
LOOK = "look"
SORTS: dict[str, str] = {LOOK: "Best match", "price": "Price: low to high", "-price": "Price: high to low"}
_CENT = Decimal("0.01")
_PRICE_LIMIT = Decimal("1e8")  # shop.Product.price: 10 digits, 2 after the point

PriceLookup = Callable[[Sequence[int]], Mapping[int, Decimal | None]]


@dataclass(frozen=True)
class PriceRule:
    """What the shopper asked of the price: ``cheaper`` (below the product looked at, or
    below photo search's best match), a shopper's own ``max_price`` / ``min_price`` (at most
    / at least), and the ``sort``. ``below`` is the reference price "cheaper" resolves to."""

    cheaper: bool = False
    max_price: Decimal | None = None
    min_price: Decimal | None = None
    sort: str = LOOK
    below: Decimal | None = None

    @property
    def restricts(self) -> bool:
        """Whether some lookalikes may be left out for their price (a wider pool is searched)."""
        return self.cheaper or self.max_price is not None or self.min_price is not None

    def with_reference(self, price: Decimal | None) -> PriceRule:
        return replace(self, below=price) if self.cheaper else self

    def admits(self, price: Decimal | None) -> bool:
        if not self.restricts:
            return True
        if price is None:
            return False
        if self.cheaper and (self.below is None or price >= self.below):
            return False
        if self.max_price is not None and price > self.max_price:
            return False
        return self.min_price is None or price >= self.min_price

    def applied(self) -> dict[str, object]:
        """The price restrictions and order, for the answer's ``filters`` (amounts as numbers,
        as the API has always echoed ``min_price`` / ``max_price``)."""
        applied: dict[str, object] = {}
        if self.cheaper:
            applied["cheaper_than"] = float(self.below) if self.below is not None else None
        if self.max_price is not None:
            applied[MAX_PRICE_PARAM] = float(self.max_price)
        if self.min_price is not None:
            applied[MIN_PRICE_PARAM] = float(self.min_price)
        if self.sort != LOOK:
            applied[SORT_PARAM] = self.sort
        return applied


def price_amount(raw: object, name: str) -> Decimal | None:
    """An amount from a request (empty: None), to the cent; InvalidInput when it is not one."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip().replace(",", "")[:20]
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name} must be an amount, like 999 or 999.50.") from None
    if not amount.is_finite() or not 0 <= amount < _PRICE_LIMIT:
        raise InvalidInput(f"{name} must be an amount from 0 to 99,999,999.99.")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def price_rule(params: Mapping[str, object]) -> PriceRule:
    """The price rule of a request's parameters (``cheaper``, ``max_price``, ``min_price``,
    ``sort``); InvalidInput for an amount that is not one or an unknown sort."""
    sort = str(params.get(SORT_PARAM) or LOOK)
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}.")
    return PriceRule(
        cheaper=refinement_on(params.get(CHEAPER_PARAM)),
        max_price=price_amount(params.get(MAX_PRICE_PARAM), "max_price"),
        min_price=price_amount(params.get(MIN_PRICE_PARAM), "min_price"),
        sort=sort,
    )


def price_pool(k: int, rule: PriceRule | None) -> int:
    """How many lookalikes to search for k results under the rule: k when nothing can be left
    out for its price, else at least VISUALSEARCH_PRICE_CANDIDATES."""
    if rule is None or not rule.restricts:
        return k
    return max(k, int(vs_settings.PRICE_CANDIDATES))


def hits_within_price(
    hits: Sequence[Hit],
    rule: PriceRule,
    k: int,
    *,
    reference: int | None = None,
    prices: PriceLookup = product_prices,
) -> tuple[list[Hit], PriceRule]:
    """The best k hits (by look, in order) whose products' prices the rule admits, and the
    rule as applied. ``reference``: the hit whose price "cheaper" means below when the rule
    has none yet (photo search's best match; it is then left out itself)."""
    if not rule.restricts:
        return list(hits[:k]), rule
    known = prices([h.product_id for h in hits])
    if rule.cheaper and rule.below is None and reference is not None:
        rule = rule.with_reference(known.get(reference))
    return [h for h in hits if h.product_id != reference and rule.admits(known.get(h.product_id))][:k], rule


def price_sorted(results: list[SimilarProduct], rule: PriceRule | None) -> list[SimilarProduct]:
    """The results in the rule's order: by look as they are, or by price (stable: equal prices
    keep their look order; products without a price last)."""
    if rule is None or rule.sort == LOOK:
        return results
    descending = rule.sort == "-price"
    priced = [r for r in results if r.product.price is not None]
    unpriced = [r for r in results if r.product.price is None]
    priced.sort(key=lambda r: r.product.price or Decimal(0), reverse=descending)
    return priced + unpriced
