"""Sales: a compare-at price above the price (the model's constraint, the admin's message, the
import's column), the discount on cards and the product page, the "Sale" filter and the
"Biggest discount" sort, demo sales; and "Newest" by when a product was added."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shop.forms import ProductAdminForm
from shop.importing.demo import demo_compare_at_price, demo_price
from shop.models import Product

pytestmark = pytest.mark.django_db


def test_a_compare_at_price_must_be_above_the_price(make_product) -> None:
    product = make_product(price=Decimal("700.00"), compare_at_price=Decimal("1000.00"))
    assert product.on_sale and product.discount_percent == 30
    for price, compare_at in ((Decimal("1000.00"), Decimal("1000.00")), (None, Decimal("1000.00"))):
        product.price, product.compare_at_price = price, compare_at
        with pytest.raises(ValidationError, match="compare-at price must be above"):
            product.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            product.save()
    product.refresh_from_db()
    product.compare_at_price = None
    product.full_clean()
    assert not product.on_sale and product.discount_percent is None


def test_the_discount_is_whole_percent_and_never_zero(make_product) -> None:
    assert make_product(price=Decimal("666.00"), compare_at_price=Decimal("999.00")).discount_percent == 33
    assert make_product(price=Decimal("999.00"), compare_at_price=Decimal("999.50")).discount_percent == 1


def test_the_admin_form_says_what_is_wrong_on_the_field(make_product) -> None:
    product = make_product(price=Decimal("500.00"))
    data = {
        field: getattr(product, field)
        for field in ProductAdminForm._meta.fields or ()
        if field not in {"image", "compare_at_price"}
    }
    form = ProductAdminForm(data={**data, "compare_at_price": "450"}, instance=product)
    assert not form.is_valid()
    assert "must be above the price" in form.errors["compare_at_price"][0]
    form = ProductAdminForm(data={**data, "compare_at_price": "800"}, instance=product)
    assert form.is_valid(), form.errors
    assert form.save().discount_percent == 38


def test_cards_and_the_product_page_show_the_sale(client: Client, make_product) -> None:
    sale = make_product(name="Sale shirt", price=Decimal("700.00"), compare_at_price=Decimal("1000.00"))
    full = make_product(name="Full price shirt", price=Decimal("800.00"))
    page = client.get(reverse("shop:catalogue")).text
    card = page[page.index(f'data-product-id="{sale.pk}"') :]
    card = card[: card.index("</article>")]
    assert "−30%" in card and "₹1,000.00" in card and "<s " in card
    assert '<span class="visually-hidden">was </span>' in card and '<span class="visually-hidden"> off</span>' in card
    other = page[page.index(f'data-product-id="{full.pk}"') :]
    assert "−" not in other[: other.index("</article>")]
    detail = client.get(sale.get_absolute_url()).text
    assert "Now </span>₹700.00" in detail and "was </span>₹1,000.00" in detail and "−30%" in detail


def test_the_sale_filter_and_the_biggest_discount_sort(client: Client, make_product) -> None:
    ten = make_product(price=Decimal("900.00"), compare_at_price=Decimal("1000.00"))
    fifty = make_product(price=Decimal("500.00"), compare_at_price=Decimal("1000.00"))
    full = make_product(price=Decimal("100.00"))
    sale = client.get(reverse("shop:catalogue"), {"sale": "1"})
    assert [p.pk for p in sale.context["page"].object_list] == [fifty.pk, ten.pk]  # newest first
    assert "Offers: On sale" in sale.text and sale.context["heading"] == "Sale"
    by_discount = client.get(reverse("shop:catalogue"), {"sort": "discount"})
    assert [p.pk for p in by_discount.context["page"].object_list] == [fifty.pk, ten.pk, full.pk]
    assert "Biggest discount" in by_discount.text
    assert client.get("/", {"sale": "1"}).context["page"].paginator.count == 2  # old links to "/"


def test_the_api_shows_and_filters_sales(client: Client, make_product) -> None:
    sale = make_product(price=Decimal("750.00"), compare_at_price=Decimal("1000.00"))
    make_product(price=Decimal("100.00"))
    body = client.get("/api/v1/products", {"sale": "true", "sort": "discount"}).json()
    assert body["count"] == 1 and body["sort"] == "discount"
    assert body["results"][0]["id"] == sale.pk
    assert body["results"][0]["compare_at_price"] == "1000.00" and body["results"][0]["discount_percent"] == 25
    full = client.get("/api/v1/products", {"sale": "false"}).json()["results"]
    assert {r["compare_at_price"] for r in full} == {"1000.00", None}


def test_newest_is_when_a_product_was_added_not_its_catalogue_year(client: Client, make_product) -> None:
    old_style_added_today = make_product(year=2011)
    new_style_added_earlier = make_product(year=2018)
    Product.objects.filter(pk=new_style_added_earlier.pk).update(created=timezone.now() - timedelta(days=3))
    newest = client.get(reverse("shop:catalogue"), {"sort": "newest"}).context["page"].object_list
    assert [p.pk for p in newest] == [old_style_added_today.pk, new_style_added_earlier.pk]
    api = client.get("/api/v1/products").json()["results"]
    assert [r["id"] for r in api] == [old_style_added_today.pk, new_style_added_earlier.pk]


def _write_styles(folder, rows: list[dict[str, str]]) -> None:
    with (folder / "styles.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0].keys()])
        writer.writeheader()
        writer.writerows(rows)


def test_the_import_reads_compare_at_price_and_skips_what_cannot_be(small_catalogue) -> None:
    rows = list(csv.DictReader((small_catalogue / "styles.csv").open()))[:4]
    prices = [("700", "1000"), ("700", "700"), ("", "900"), ("800", "")]
    for row, (price, compare_at) in zip(rows, prices, strict=True):
        row["price"], row["compare_at_price"] = price, compare_at
    _write_styles(small_catalogue, rows)
    out = io.StringIO()
    call_command("import_catalogue", str(small_catalogue), "--no-embeddings", stdout=out, stderr=out)
    on_sale = Product.objects.get(external_id=rows[0]["id"])
    assert (on_sale.price, on_sale.compare_at_price) == (Decimal("700.00"), Decimal("1000.00"))
    assert Product.objects.get(external_id=rows[3]["id"]).compare_at_price is None
    assert not Product.objects.filter(external_id__in=[rows[1]["id"], rows[2]["id"]]).exists()
    log = out.getvalue()
    assert "compare_at_price 700.00 is not above the price 700.00" in log
    assert "compare_at_price 900.00 needs a price" in log
    # A later file raises the price past the sale's former price without ending the sale: skipped, kept.
    rows = rows[:1]
    rows[0]["price"] = "1200"
    del rows[0]["compare_at_price"]
    _write_styles(small_catalogue, rows)
    call_command("import_catalogue", str(small_catalogue), "--no-embeddings", stdout=out, stderr=out)
    on_sale.refresh_from_db()
    assert (on_sale.price, on_sale.compare_at_price) == (Decimal("700.00"), Decimal("1000.00"))
    assert "compare_at_price 1000.00 is not above the price 1200.00" in out.getvalue()
    # An empty cell ends the sale.
    rows[0]["compare_at_price"] = ""
    _write_styles(small_catalogue, rows)
    call_command("import_catalogue", str(small_catalogue), "--no-embeddings", stdout=out, stderr=out)
    on_sale.refresh_from_db()
    assert (on_sale.price, on_sale.compare_at_price) == (Decimal("1200.00"), None)


def test_demo_prices_put_about_one_product_in_four_on_sale(small_catalogue) -> None:
    keys = [str(i) for i in range(400)]
    sales = [demo_compare_at_price(key, demo_price("Tshirts", "Apparel", key)) for key in keys]
    share = sum(1 for s in sales if s is not None) / len(keys)
    assert 0.15 < share < 0.35
    for key, compare_at in zip(keys, sales, strict=True):
        if compare_at is not None:
            assert compare_at > demo_price("Tshirts", "Apparel", key) and str(compare_at).endswith("9.00")
    call_command("import_catalogue", str(small_catalogue), "--no-embeddings", "--demo-prices", stdout=io.StringIO())
    assert Product.objects.filter(compare_at_price__isnull=False).exists()
