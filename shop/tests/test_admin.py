"""Staff side of the catalogue: product list, filters, search, refusing a non-image upload,
staff only. (A product added by staff getting its embedding: visualsearch/tests/admin/test_products.py.)"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from shop.models import Product
from tests.support.products import admin_product_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, admin_user) -> Client:
    client.force_login(admin_user)
    return client


def test_product_list_has_thumbnails_filters_and_search(staff_client: Client, make_product) -> None:
    make_product(name="Findable Blue Jeans", article_type="Jeans", external_id="12345")
    make_product(name="Other Shirt")
    url = reverse("admin:shop_product_changelist")
    response = staff_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<img src=" in body
    for title in ("By embedding", "By gender", "By master category", "By article type"):
        assert title in body
    found = staff_client.get(url, {"q": "12345"})
    assert list(found.context["cl"].result_list.values_list("name", flat=True)) == ["Findable Blue Jeans"]
    found = staff_client.get(url, {"article_type__exact": "Jeans"})
    assert found.context["cl"].result_count == 1


def test_admin_refuses_a_non_image_upload_with_a_message(staff_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff_client.post(
        reverse("admin:shop_product_add"),
        admin_product_form(SimpleUploadedFile("notes.jpg", b"just some text", content_type="image/jpeg")),
    )
    assert response.status_code == 200
    assert Product.objects.count() == 0
    assert "Upload a valid image" in response.content.decode() or "not an image" in response.content.decode()


def test_admin_is_staff_only(client: Client, django_user_model) -> None:
    user = django_user_model.objects.create_user("shopper", password="x-secret-123")
    client.force_login(user)
    response = client.get(reverse("admin:shop_product_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_put_a_product_on_sale_and_find_sales_in_the_list(staff_client: Client, make_image) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    add = reverse("admin:shop_product_add")
    photo = SimpleUploadedFile("shirt.jpg", make_image(), "image/jpeg")
    refused = staff_client.post(add, admin_product_form(photo, compare_at_price="499.00"))
    assert refused.status_code == 200 and not Product.objects.exists()
    assert "must be above the price" in refused.content.decode()
    photo = SimpleUploadedFile("shirt.jpg", make_image(), "image/jpeg")
    saved = staff_client.post(add, admin_product_form(photo, compare_at_price="999.00"))
    assert saved.status_code == 302
    product = Product.objects.get()
    assert product.on_sale and product.discount_percent == 50
    url = reverse("admin:shop_product_changelist")
    on_sale = staff_client.get(url, {"on_sale": "yes"})
    assert on_sale.context["cl"].result_count == 1 and "−50% (was 999.00)" in on_sale.content.decode()
    assert staff_client.get(url, {"on_sale": "no"}).context["cl"].result_count == 0
