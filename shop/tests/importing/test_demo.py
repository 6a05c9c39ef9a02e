"""Demo prices, sizes and stock (shop.importing.demo): deterministic and plausible, applied by
``import_catalogue --demo-prices --demo-stock`` where the file has no price; the import's price
column wins."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from shop.importing.demo import APPAREL_SIZES, FOOTWEAR_SIZES, ONE_SIZE, demo_price, demo_sizes, demo_stock
from shop.models import Product, ProductVariant

pytestmark = pytest.mark.django_db


def test_demo_data_is_deterministic_and_plausible() -> None:
    assert demo_price("Socks", "Accessories", "1") == demo_price("Socks", "Accessories", "1")
    socks = [demo_price("Socks", "Accessories", str(i)) for i in range(200)]
    watches = [demo_price("Watches", "Accessories", str(i)) for i in range(200)]
    assert max(socks) < sum(watches) / len(watches)
    assert len(set(socks)) > 3  # varied by id
    assert all(str(p).endswith("9.00") for p in socks + watches)
    assert demo_sizes("Apparel", "Tshirts") == APPAREL_SIZES
    assert demo_sizes("Footwear", "Heels") == FOOTWEAR_SIZES
    assert demo_sizes("Accessories", "Watches") == ONE_SIZE
    stocks = [demo_stock(str(i), APPAREL_SIZES) for i in range(500)]
    assert stocks[7] == demo_stock("7", APPAREL_SIZES)
    sold_out = sum(1 for s in stocks if not any(s.values()))
    assert 20 < sold_out < 100  # some products sold out, most not
    assert any(0 in s.values() and any(s.values()) for s in stocks)  # some sizes sold out


def test_import_reads_price_column_and_demo_flags(small_catalogue, tmp_path) -> None:
    styles = small_catalogue / "styles.csv"
    rows = list(csv.DictReader(styles.open()))
    for i, row in enumerate(rows):
        row["price"] = "1234.50" if i == 0 else ""
    with styles.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0].keys()])
        writer.writeheader()
        writer.writerows(rows)
    out = io.StringIO()
    call_command(
        "import_catalogue", str(small_catalogue), "--no-embeddings", "--demo-prices", "--demo-stock", stdout=out
    )
    first = Product.objects.get(external_id=rows[0]["id"])
    assert first.price == Decimal("1234.50")  # the file's price wins over demo prices
    assert not Product.objects.filter(price__isnull=True).exists()
    assert all(p.variants.exists() for p in Product.objects.all())
    prices = dict(Product.objects.values_list("external_id", "price"))
    stock = dict(ProductVariant.objects.values_list("pk", "stock"))
    call_command(
        "import_catalogue", str(small_catalogue), "--no-embeddings", "--demo-prices", "--demo-stock", stdout=out
    )
    assert dict(Product.objects.values_list("external_id", "price")) == prices  # idempotent
    assert dict(ProductVariant.objects.values_list("pk", "stock")) == stock
