"""Helpers of the buying-side tests: priced products with sizes, a shopper going through
checkout with the test client."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.test import Client
from django.urls import reverse

ADDRESS = {
    "email": "shopper@example.com",
    "full_name": "Asha Shopper",
    "address_line1": "12 MG Road",
    "address_line2": "",
    "city": "Bengaluru",
    "postcode": "560001",
    "country": "India",
    "phone": "",
}


# The same shopper's address as orders.services takes it (order_place without checkout).
SHIP_TO_FIELDS = ("Asha Shopper", "12 MG Road", "Bengaluru", "560001", "India")


def place_directly(items: list, key: str, **kwargs):
    """An order placed with ``orders.services.order_place`` itself (no bag, no checkout):
    ``items`` are ``OrderItem``s, ``key`` the idempotency key, delivery free."""
    from orders.services import ShippingAddress, order_place

    return order_place(
        items=items,
        email="a@example.com",
        address=ShippingAddress(*SHIP_TO_FIELDS),
        shipping_method="standard",
        shipping_method_name="Standard delivery",
        shipping_cost=lambda subtotal: Decimal("0.00"),
        idempotency_key=key,
        **kwargs,
    )


def priced_product(
    make_product: Callable[..., object], price: str = "999.00", sizes: dict[str, int] | None = None, **fields
):
    """A product with a price and sizes (size → stock, default S/M/L in stock)."""
    from shop.models import ProductVariant

    product = make_product(price=Decimal(price), **fields)
    for i, (size, stock) in enumerate((sizes or {"S": 5, "M": 5, "L": 5}).items()):
        ProductVariant.objects.create(product=product, size=size, sort_order=i, stock=stock)
    return product


def variant(product, size: str):
    return product.variants.get(size=size)


def add_to_bag(client: Client, variant_obj, quantity: int = 1):
    return client.post(reverse("bag:add"), {"variant": variant_obj.pk, "quantity": quantity})


def bag_lines(client: Client) -> list[tuple[str, str, int]]:
    """The shopper's bag as the bag page shows it: (product name, size, quantity) per line."""
    summary = client.get(reverse("bag:detail")).context["bag"]
    return [(line.product.name, line.variant.size, line.quantity) for line in summary.lines]


def checkout_to_review(client: Client, *, shipping: str = "standard", **address: str):
    """Details and delivery filled in; returns the review page's response."""
    response = client.post(reverse("checkout:details"), {**ADDRESS, **address})
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(reverse("checkout:shipping"), {"method": shipping})
    assert response.status_code == 302
    response = client.get(reverse("checkout:review"))
    assert response.status_code == 200
    return response


def place_order(client: Client, review_response):
    """Submit the review form as the page rendered it."""
    context = review_response.context
    return client.post(
        reverse("checkout:review"),
        {"idempotency_key": context["idempotency_key"], "expected_total": str(context["quote"].total)},
    )


def pay(client: Client, number: str, status: str = "confirmed"):
    """The dummy provider's form: confirm or reject the payment."""
    url = reverse("checkout:payment", args=[number])
    client.get(url)
    return client.post(
        url, {"status": status, "fraud_status": "accept", "gateway_response": "3ds-disabled", "verification_result": ""}
    )
