"""Shopper input that answered 500 (issue 19, section 2): each value is now parsed by a
validated form or schema with bounds, refused with a message or ignored, never a 500, and
nothing is written on a refusal. The generated-input sweep is tests/test_shopper_input_fuzz.py."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from bag.models import BagLine
from orders.models import Order
from tests.support.shopping import add_to_bag, bag_lines, checkout_to_review, priced_product, variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    "query",
    [
        "min_price=1e-999999999",
        "min_price=0E-99999999",
        "max_price=1e-999999999",
        "min_price=1E+99999999",
        "max_price=0.0000000000000000000000000001",
        "min_price=-0E-99999",
    ],
)
def test_catalogue_price_bounds_with_huge_exponents_are_not_a_500(client, make_product, query) -> None:
    priced_product(make_product, "499.00", name="Blue Shirt")
    response = client.get(f"{reverse('shop:catalogue')}?{query}")
    assert response.status_code == 200


def test_catalogue_price_bounds_are_kept_to_the_column_precision(client, make_product) -> None:
    priced_product(make_product, "499.00", name="Blue Shirt")
    priced_product(make_product, "1500.00", name="Red Kurta")
    response = client.get(reverse("shop:catalogue"), {"min_price": "1e-999999999", "max_price": "500.004"})
    assert response.status_code == 200
    assert [p.name for p in response.context["page"].object_list] == ["Blue Shirt"]


@pytest.mark.parametrize(
    "data",
    [
        {"expected_total": "NaN"},
        {"expected_total": "sNaN"},
        {"expected_total": "-Infinity"},
        {"expected_total": "1e999999999"},
        {"idempotency_key": "k" * 65},
        {"idempotency_key": "abc\x00def"},
        {"idempotency_key": ""},
    ],
    ids=["NaN", "sNaN", "-Infinity", "huge", "65 chars", "NUL", "empty key"],
)
def test_checkout_review_refuses_bad_totals_and_keys_without_placing(client, make_product, data) -> None:
    add_to_bag(client, variant(priced_product(make_product, "500.00", name="Blue Shirt"), "M"))
    review = checkout_to_review(client)
    posted = {
        "idempotency_key": review.context["idempotency_key"],
        "expected_total": str(review.context["quote"].total),
    }
    response = client.post(reverse("checkout:review"), {**posted, **data})
    assert response.status_code == 400
    assert "out of date" in response.content.decode()
    assert not Order.objects.exists()
    assert bag_lines(client) == [("Blue Shirt", "M", 1)]


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999", "-1", "1\x00"])
def test_bag_line_update_with_a_bad_variant_is_refused(client, make_product, value) -> None:
    product = priced_product(make_product, "500.00", name="Blue Shirt")
    add_to_bag(client, variant(product, "M"))
    line = BagLine.objects.get()
    response = client.post(reverse("bag:line_update", args=[line.pk]), {"quantity": "1", "variant": value}, follow=True)
    assert response.status_code == 200
    assert "Choose a size" in response.content.decode()
    assert bag_lines(client) == [("Blue Shirt", "M", 1)]


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999", "1\x00"])
def test_bag_add_with_a_bad_variant_is_refused(client, make_product, value) -> None:
    priced_product(make_product, "500.00", name="Blue Shirt")
    response = client.post(reverse("bag:add"), {"variant": value, "quantity": "1"}, follow=True)
    assert response.status_code == 200
    assert "Choose a size" in response.content.decode()
    assert not BagLine.objects.exists()


def test_bag_line_ids_past_the_column_are_not_a_500(client, make_product) -> None:
    add_to_bag(client, variant(priced_product(make_product, "500.00", name="Blue Shirt"), "M"))
    huge = 10**20
    for name in ("bag:line_update", "bag:line_remove"):
        response = client.post(reverse(name, args=[huge]), {"quantity": "1"})
        assert response.status_code == 302, name
    assert bag_lines(client) == [("Blue Shirt", "M", 1)]
