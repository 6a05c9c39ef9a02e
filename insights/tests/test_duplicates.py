"""Duplicate products: a planted pair with the same picture is listed side by side; staff can
take one off the shop or mark the pair as different products (remembered); saving a product
whose picture is another's warns with a link to it."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from insights.duplicates import duplicate_pairs_list
from insights.models import DistinctPair
from shop.models import Product
from shop.services import product_image_derivatives_update
from tests.support.embeddings import store_vector
from tests.support.images import image_bytes
from tests.support.products import admin_product_form
from tests.support.shopping import priced_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def planted(make_product):
    """Two products with the same picture file, and one unlike them."""
    picture = image_bytes(colour=(20, 120, 200))
    first = priced_product(make_product, image=picture, name="Navy Polo", price="799.00")
    second = priced_product(make_product, image=picture, name="Navy Polo Shirt", price="849.00", sizes={"M": 0})
    other = priced_product(make_product, image=image_bytes(colour=(240, 200, 10)), name="Yellow Scarf")
    for product in (first, second, other):
        product_image_derivatives_update(product)  # the checksum, as the admin and the import record it
    return first, second, other


def test_the_page_lists_a_planted_identical_pair_side_by_side(planted, staff_client) -> None:
    first, second, _other = planted
    response = staff_client.get(reverse("insights:duplicates"))
    assert response.status_code == 200
    (pair,) = response.context["pairs"]
    assert {pair.first.pk, pair.second.pk} == {first.pk, second.pk}
    assert pair.identical
    body = response.content.decode()
    for text in ("Navy Polo", "Navy Polo Shirt", "799.00", "849.00", "Out of stock", "In stock", "Identical picture"):
        assert text in body
    assert "Yellow Scarf" not in body


def test_nearly_identical_vectors_are_listed_as_nearly_identical(make_product, staff_client) -> None:
    a = make_product(image=image_bytes(colour=(10, 10, 10)), name="Black Tee")
    b = make_product(image=image_bytes(colour=(12, 10, 10)), name="Black Tee Again")
    c = make_product(image=image_bytes(colour=(200, 10, 10)), name="Red Tee")
    base = np.random.default_rng(1).standard_normal(2048)
    store_vector(a, base)
    store_vector(b, base + 0.01 * np.random.default_rng(2).standard_normal(2048))
    store_vector(c, seed=7)
    (pair,) = duplicate_pairs_list()
    assert {pair.first.pk, pair.second.pk} == {a.pk, b.pk}
    assert not pair.identical and pair.cosine is not None and pair.cosine > 0.99


def test_marking_a_pair_different_is_remembered(planted, staff_client) -> None:
    first, second, _ = planted
    response = staff_client.post(
        reverse("insights:duplicates"), {"first": second.pk, "second": first.pk, "action": "distinct"}
    )
    assert response.status_code == 302
    assert DistinctPair.objects.filter(first=min(first.pk, second.pk), second=max(first.pk, second.pk)).exists()
    assert staff_client.get(reverse("insights:duplicates")).context["pairs"] == []
    assert "No duplicate products" in staff_client.get(reverse("insights:duplicates")).content.decode()


def test_taking_one_off_the_shop_deactivates_it_and_the_pair_goes(planted, staff_client) -> None:
    first, second, _ = planted
    staff_client.post(
        reverse("insights:duplicates"), {"first": first.pk, "second": second.pk, "action": "deactivate-second"}
    )
    assert Product.objects.get(pk=second.pk).is_active is False
    assert Product.objects.get(pk=first.pk).is_active is True
    assert duplicate_pairs_list() == []


def test_a_bad_action_changes_nothing(planted, staff_client) -> None:
    first, second, _ = planted
    for data in (
        {"first": "x", "second": second.pk, "action": "distinct"},
        {"first": first.pk, "second": second.pk, "action": "drop"},
    ):
        assert staff_client.post(reverse("insights:duplicates"), data).status_code == 302
    assert not DistinctPair.objects.exists()
    assert Product.objects.filter(is_active=True).count() == 3


def test_saving_a_product_with_another_products_picture_warns_with_a_link(planted, staff_client) -> None:
    first, _second, _ = planted
    from django.core.files.uploadedfile import SimpleUploadedFile

    with first.image.open("rb") as handle:
        picture = handle.read()
    form = admin_product_form(SimpleUploadedFile("copy.jpg", picture, content_type="image/jpeg"), name="Navy Polo Copy")
    response = staff_client.post(reverse("admin:shop_product_add"), form, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "picture is the same as" in body
    assert reverse("admin:shop_product_change", args=[first.pk]) in body
    assert reverse("insights:duplicates") in body


def test_saving_a_product_with_its_own_picture_gives_no_warning(planted, staff_client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = admin_product_form(
        SimpleUploadedFile("new.jpg", image_bytes(colour=(90, 200, 90)), content_type="image/jpeg"), name="Green Cap"
    )
    body = staff_client.post(reverse("admin:shop_product_add"), form, follow=True).content.decode()
    assert "Green Cap" in body
    assert "picture is the same as" not in body
