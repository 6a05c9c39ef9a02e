"""Prices, sizes and stock in the shop: money format, price display on cards and the product
page, price filter and sort, the admin inline. (Demo prices and stock, and the import's price
column: shop/tests/importing/test_demo.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from shop.models import Product, ProductVariant
from shop.money import money_format
from tests.support.shopping import priced_product

pytestmark = pytest.mark.django_db


def test_money_format_uses_the_shop_currency(settings) -> None:
    assert money_format(Decimal("1299")) == "₹1,299.00"
    assert money_format(None) == ""
    settings.SHOP_CURRENCY = "EUR"
    assert money_format("12.5") == "€12.50"
    settings.SHOP_CURRENCY = "CHF"
    assert money_format(3) == "CHF 3.00"


def test_cards_and_product_page_show_prices_and_sold_out(client, make_product) -> None:
    cheap = priced_product(make_product, "499.00", name="Cheap Tee")
    gone = priced_product(make_product, "1299.00", {"S": 0, "M": 0}, name="Gone Tee")
    page = client.get(reverse("shop:catalogue")).content.decode()
    assert "₹499.00" in page and "₹1,299.00" in page
    assert "Sold out" in page
    detail = client.get(cheap.get_absolute_url()).content.decode()
    assert "₹499.00" in detail
    assert 'name="variant"' in detail and "Add to bag" in detail
    sold_out = client.get(gone.get_absolute_url()).content.decode()
    assert "Sold out in every size" in sold_out
    assert sold_out.count("disabled") >= 3  # both sizes and the button


def test_sold_out_sizes_are_disabled_in_the_picker(client, make_product) -> None:
    product = priced_product(make_product, "799.00", {"S": 0, "M": 2})
    html = client.get(product.get_absolute_url()).content.decode()
    s, m = product.variants.get(size="S"), product.variants.get(size="M")
    assert f'value="{s.pk}" disabled' in html
    assert f'value="{m.pk}" disabled' not in html
    assert "2 left" in html


def test_price_sort_and_range_filter(client, make_product) -> None:
    for price in ("1500.00", "300.00", "900.00"):
        priced_product(make_product, price, name=f"Shirt {price}")
    make_product(name="No price")
    names = lambda r: [p.name for p in r.context["page"].object_list]  # noqa: E731
    assert names(client.get("/catalogue/?sort=price")) == ["Shirt 300.00", "Shirt 900.00", "Shirt 1500.00", "No price"]
    assert names(client.get("/catalogue/?sort=-price"))[:3] == ["Shirt 1500.00", "Shirt 900.00", "Shirt 300.00"]
    filtered = client.get("/catalogue/?sort=price&min_price=400&max_price=1000")
    assert names(filtered) == ["Shirt 900.00"]
    assert "Price: from ₹400.00 up to ₹1,000.00" in filtered.content.decode()
    assert names(client.get("/catalogue/?min_price=abc&max_price=1e999"))  # nonsense bounds are ignored


def test_stock_cannot_go_negative_and_sizes_are_unique(make_product) -> None:
    product = priced_product(make_product, "100.00", {"M": 1})
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariant.objects.filter(product=product).update(stock=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariant.objects.create(product=product, size="M", stock=1)
    assert product.in_stock
    ProductVariant.objects.filter(product=product).update(stock=0)
    assert not Product.objects.get(pk=product.pk).in_stock


def test_staff_edit_sizes_inline_in_the_product_admin(client, django_user_model, make_product) -> None:
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-12345-abc")
    client.force_login(staff)
    product = priced_product(make_product, "500.00", {"M": 1})
    page = client.get(reverse("admin:shop_product_change", args=[product.pk]))
    assert page.status_code == 200
    assert "variants-TOTAL_FORMS" in page.content.decode()


def test_the_shop_renders_without_the_buying_apps(client, make_product, settings) -> None:
    """Bag, checkout, orders and accounts only render into the shop's hooks: without them the
    catalogue and product pages still work (and show prices, sizes, sold out)."""
    from core.templatetags.hooks import _hook_templates

    product = priced_product(make_product, "499.00", {"S": 1}, name="Plain Tee")
    buying = {"orders", "bag", "checkout", "accounts", "payments"}
    _hook_templates.cache_clear()
    try:
        settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app not in buying]
        settings.ROOT_URLCONF = "tests.support.urls_without_buying"
        for url in ("/", product.get_absolute_url()):
            html = client.get(url).content.decode()
            assert "₹499.00" in html
            assert "Add to bag" not in html and "Bag" not in html
        assert "Sizes in stock" in html  # the product page lists the sizes itself
    finally:
        _hook_templates.cache_clear()


def test_admin_product_list_shows_stock(client, django_user_model, make_product) -> None:
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "pw-12345-abc"))
    priced_product(make_product, "500.00", {"S": 2, "M": 3}, name="Stocked")
    priced_product(make_product, "500.00", {"S": 0}, name="Empty")
    page = client.get(reverse("admin:shop_product_changelist"))
    rows = {p.name: p.stock_total for p in page.context["cl"].result_list}
    assert rows == {"Stocked": 5, "Empty": 0}
    assert "Sold out" in page.content.decode()


def test_cards_need_no_query_per_product(client, make_product) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/catalogue/").status_code == 200
        return len(captured)

    for i in range(3):
        priced_product(make_product, "100.00", name=f"A{i}")
    few = queries()
    for i in range(9):
        priced_product(make_product, "100.00", name=f"B{i}")
    assert queries() == few
