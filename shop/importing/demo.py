"""Demo prices, sizes and stock for a catalogue that has none (the shared *Fashion Product
Images* set has neither prices nor stock). Everything here is deterministic: the same product
(its article type and external id) always gets the same price, sizes and stock, so a demo site,
a screenshot and a test agree. This is demo data, documented as such in docs/shop.md; real
catalogues bring a ``price`` column and staff set stock in the admin.

Only the demo path uses it: ``import_catalogue --demo-prices --demo-stock`` (``scripts/dev``)
applies it after the import (``demo_prices_apply``, ``demo_stock_apply``); the import itself
never makes up prices or stock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from shop.models import Product, ProductVariant
from shop.services import catalogue_changes_announce

# Article type → (lowest, highest) price in the shop's currency (INR by default).
PRICE_BANDS: dict[str, tuple[int, int]] = {
    "Socks": (149, 499),
    "Briefs": (199, 599),
    "Trunk": (199, 599),
    "Boxers": (249, 699),
    "Innerwear Vests": (199, 549),
    "Bra": (299, 1199),
    "Tshirts": (399, 1499),
    "Tops": (399, 1599),
    "Shirts": (699, 2499),
    "Kurtas": (599, 2499),
    "Kurtis": (499, 1799),
    "Tunics": (499, 1699),
    "Jeans": (999, 3499),
    "Trousers": (899, 2999),
    "Track Pants": (599, 1999),
    "Shorts": (399, 1299),
    "Capris": (399, 1199),
    "Leggings": (299, 999),
    "Skirts": (599, 1999),
    "Dresses": (899, 3999),
    "Sarees": (999, 6999),
    "Sweatshirts": (899, 2999),
    "Sweaters": (999, 3499),
    "Jackets": (1499, 5999),
    "Nightdress": (499, 1499),
    "Night suits": (699, 1999),
    "Casual Shoes": (1299, 4999),
    "Sports Shoes": (1499, 6999),
    "Formal Shoes": (1799, 5999),
    "Heels": (999, 3999),
    "Flats": (599, 1999),
    "Sandals": (599, 2499),
    "Sports Sandals": (699, 2499),
    "Flip Flops": (199, 899),
    "Watches": (1499, 14999),
    "Sunglasses": (799, 5999),
    "Handbags": (999, 4999),
    "Clutches": (599, 2499),
    "Backpacks": (899, 3499),
    "Duffel Bag": (999, 3999),
    "Laptop Bag": (1199, 3999),
    "Wallets": (399, 1999),
    "Belts": (399, 1499),
    "Caps": (299, 999),
    "Ties": (399, 1299),
    "Cufflinks": (499, 1999),
    "Earrings": (199, 1499),
    "Pendant": (299, 1999),
    "Ring": (199, 1499),
    "Perfume and Body Mist": (499, 3999),
    "Deodorant": (149, 499),
    "Nail Polish": (99, 399),
    "Lipstick": (199, 999),
}
# By master category, for article types not listed above.
CATEGORY_BANDS: dict[str, tuple[int, int]] = {
    "Apparel": (499, 2499),
    "Footwear": (799, 3999),
    "Accessories": (299, 2499),
    "Personal Care": (149, 999),
}
DEFAULT_BAND = (299, 1999)

APPAREL_SIZES = ("S", "M", "L", "XL", "XXL")
FOOTWEAR_SIZES = ("6", "7", "8", "9", "10", "11")
ONE_SIZE = ("One size",)
# Apparel that is sold in one size all the same.
ONE_SIZE_APPAREL = {"Sarees", "Dupatta", "Stoles", "Scarves"}
# About one product in SOLD_OUT_ONE_IN is sold out in every size; others have some sizes sold out.
SOLD_OUT_ONE_IN = 10
# About one product in ON_SALE_ONE_IN is on sale, at one of these discounts (percent).
ON_SALE_ONE_IN = 4
SALE_DISCOUNTS = (10, 20, 30, 40, 50)


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def demo_price(article_type: str, master_category: str, key: str) -> Decimal:
    """A plausible price for this article type, varied by ``key`` (the external id) and ending
    in 9 (₹1,299 rather than ₹1,284)."""
    low, high = PRICE_BANDS.get(article_type) or CATEGORY_BANDS.get(master_category) or DEFAULT_BAND
    steps = max((high - low) // 50, 0)
    price = low + (_hash("price", key) % (steps + 1)) * 50
    price = min(price - price % 50 + 49 if price % 50 != 49 else price, high)
    return Decimal(price).quantize(Decimal("0.01"))


def demo_compare_at_price(key: str, price: Decimal) -> Decimal | None:
    """About one product in four on sale: a former price such that ``price`` is 10–50 % off it
    (rounded to a price ending in 9, always above ``price``); None for the others."""
    if _hash("sale", key) % ON_SALE_ONE_IN != 0:
        return None
    discount = SALE_DISCOUNTS[_hash("discount", key) % len(SALE_DISCOUNTS)]
    former = int(price * 100 / (100 - discount))
    former = former - former % 50 + 49 if former % 50 != 49 else former
    return Decimal(max(former, int(price) + 50)).quantize(Decimal("0.01"))


def demo_sizes(master_category: str, article_type: str) -> tuple[str, ...]:
    """Apparel S–XXL, footwear 6–11, everything else one size."""
    if master_category == "Apparel" and article_type not in ONE_SIZE_APPAREL:
        return APPAREL_SIZES
    if master_category == "Footwear":
        return FOOTWEAR_SIZES
    return ONE_SIZE


def demo_stock(key: str, sizes: tuple[str, ...]) -> dict[str, int]:
    """Stock per size: about one product in ten sold out everywhere, about one size in five sold
    out, the rest 1–12 units."""
    if _hash("sold-out", key) % SOLD_OUT_ONE_IN == 0:
        return dict.fromkeys(sizes, 0)
    stock = {}
    for size in sizes:
        h = _hash("stock", key, size)
        stock[size] = 0 if h % 5 == 0 else 1 + h % 12
    if not any(stock.values()):
        stock[sizes[len(sizes) // 2]] = 3
    return stock


def demo_prices_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no price a deterministic demo price (and one in four
    a sale: a compare-at price). Staff-set prices are kept. Returns how many products got one."""
    products = Product.objects.filter(price__isnull=True, external_id__isnull=False)
    if external_ids is not None:
        products = products.filter(external_id__in=list(external_ids))
    changed: list[Product] = []
    for product in products.only("pk", "external_id", "article_type", "master_category").iterator(chunk_size=2000):
        product.price = demo_price(product.article_type, product.master_category, product.external_id or "")
        product.compare_at_price = demo_compare_at_price(product.external_id or "", product.price)
        changed.append(product)
    with transaction.atomic():
        Product.objects.bulk_update(changed, ["price", "compare_at_price"], batch_size=2000)
        catalogue_changes_announce([p.pk for p in changed])
    return len(changed)


def demo_stock_apply(external_ids: Sequence[str] | None = None) -> int:
    """Give imported products that have no sizes yet deterministic demo sizes and stock.
    Returns how many products got sizes."""
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
