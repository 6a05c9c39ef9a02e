"""A guest looks up an order by number and e-mail (orders.selectors.order_lookup, the
/orders/lookup/ page): the same answer for an unknown number and a wrong e-mail, the e-mail
compared in constant time, the page limited per client, the detail only for this session."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from orders.selectors import order_lookup
from orders.services import OrderItem
from tests.support.shopping import place_directly, priced_product, variant

LOOKUP = "/orders/lookup/"


@pytest.fixture
def order(make_product) -> Order:
    product = priced_product(make_product, "250.00", {"M": 3}, name="Lookup Tee")
    return place_directly([OrderItem(variant(product, "M").pk, 1)], "lookup")


@pytest.mark.django_db
def test_order_lookup_needs_both_the_number_and_the_email(order: Order) -> None:
    assert order_lookup(order.number, "a@example.com") == order
    # As people type them: spaces, lower case number, the address in another case.
    assert order_lookup(f"  {order.number.lower()} ", " A@Example.COM ") == order
    assert order_lookup(order.number, "b@example.com") is None
    assert order_lookup("LA-000000-000000", "a@example.com") is None
    assert order_lookup("", "a@example.com") is None
    assert order_lookup(order.number, "") is None


@pytest.fixture
def limits(settings):
    settings.RATELIMIT_ENABLED = True
    settings.RATELIMITS = {**settings.RATELIMITS, "order_lookup": "3/m"}
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }


@pytest.mark.django_db
def test_no_such_order_and_wrong_email_get_the_same_answer(order: Order, limits) -> None:
    def answer(number: str, email: str, address: str) -> tuple[int, str]:
        response = Client(REMOTE_ADDR=address).post(LOOKUP, {"number": number, "email": email})
        page = response.content.decode()
        main = page[page.index("<main") : page.index("</main>")]
        return response.status_code, re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", main)

    wrong_email = answer(order.number, "someone@example.com", "203.0.113.1")
    no_such_order = answer("LA-000000-000000", "someone@example.com", "203.0.113.2")
    assert wrong_email[0] == no_such_order[0] == 200
    assert "We could not find an order with that number and e-mail address." in wrong_email[1]
    # Word for word, but for the number typed back into the form.
    assert wrong_email[1].replace(order.number, "N") == no_such_order[1].replace("LA-000000-000000", "N")
    assert "Lookup Tee" not in wrong_email[1]


@pytest.mark.django_db
def test_the_right_pair_shows_the_order_to_this_session_only(client, order: Order, limits) -> None:
    response = client.post(LOOKUP, {"number": order.number.lower(), "email": "A@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:lookup_detail", args=[order.number])
    page = client.get(response["Location"]).content.decode()
    assert order.number in page and "Lookup Tee" in page and "Pending payment" in page
    assert "12 MG Road" in page and "₹250.00" in page
    # The URL alone shows nothing: another visitor is sent to the form.
    stranger = Client().get(reverse("orders:lookup_detail", args=[order.number]))
    assert stranger.status_code == 302 and stranger["Location"] == LOOKUP


@pytest.mark.django_db
def test_bad_input_gets_a_clear_message_not_an_error(client, limits) -> None:
    response = client.post(LOOKUP, {"number": "LA-1\x00; DROP", "email": "not-an-email"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Order numbers are letters, digits and dashes" in page
    assert "Enter a valid email address." in page
    assert client.post(LOOKUP, {}).status_code == 400
    assert client.get("/orders/lookup/%00/").status_code == 404


@pytest.mark.django_db
def test_the_lookup_is_rate_limited_per_client(order: Order, limits) -> None:
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    codes = [guesser.post(LOOKUP, {"number": order.number, "email": f"x{i}@example.com"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    # Even the right pair waits now; another client is not affected; the form itself is free.
    assert guesser.post(LOOKUP, {"number": order.number, "email": "a@example.com"}).status_code == 429
    assert guesser.get(LOOKUP).status_code == 200
    other = Client(REMOTE_ADDR="203.0.113.10").post(LOOKUP, {"number": order.number, "email": "a@example.com"})
    assert other.status_code == 302


@pytest.mark.django_db
def test_the_footer_and_the_returns_page_link_the_lookup(client) -> None:
    home = client.get("/").content.decode()
    assert 'href="/orders/lookup/"' in home and 'href="/returns/"' in home
    page = client.get("/returns/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "30 days" in text and "free" in text and "within 5 working days" in text
    assert 'href="/orders/lookup/"' in text
    assert 'href="mailto:help@lookalike.example?subject=Return"' in text  # where to ask for the label


@pytest.mark.django_db
def test_the_returns_address_is_a_setting(client, settings) -> None:
    settings.ORDERS = {"SUPPORT_EMAIL": "returns@shop.example"}
    assert "mailto:returns@shop.example" in client.get("/returns/").content.decode()
