"""The heart (a form: without JavaScript back to the page with a message; with it, JSON) and
the wishlist page, the header's count."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_heart_is_on_every_card_and_the_product_page(client, make_product) -> None:
    product = make_product(name="Hearted Tee")
    catalogue = client.get(reverse("shop:catalogue")).content.decode()
    assert f'action="{reverse("wishlist:toggle", args=[product.pk])}"' in catalogue
    assert 'aria-pressed="false"' in catalogue
    page = client.get(product.get_absolute_url()).content.decode()
    assert 'aria-label="Save Hearted Tee to your wishlist"' in page
    assert 'aria-label="Wishlist, 0 products"' in page


def test_without_javascript_the_form_saves_and_comes_back(client, make_product) -> None:
    product = make_product(name="No Script Tee")
    url = reverse("wishlist:toggle", args=[product.pk])
    response = client.post(url, {"change": "add", "next": product.get_absolute_url()}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == product.get_absolute_url()
    assert "No Script Tee saved to your wishlist." in page
    assert 'aria-pressed="true"' in page and 'value="remove"' in page
    assert 'aria-label="Wishlist, 1 product"' in page
    response = client.post(url, {"change": "remove", "next": "https://evil.example/"})
    assert response["Location"] == reverse("wishlist:page")


def test_with_javascript_it_answers_json(client, make_product) -> None:
    product = make_product()
    url = reverse("wishlist:toggle", args=[product.pk])
    response = client.post(url, {"change": "add"}, HTTP_ACCEPT="application/json")
    assert json.loads(response.content) == {"product_id": product.pk, "saved": True, "count": 1}
    response = client.post(url, {"change": "flip"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    missing = client.post(reverse("wishlist:toggle", args=[999999]), {"change": "add"}, HTTP_ACCEPT="application/json")
    assert missing.status_code == 404 and json.loads(missing.content)["error"]["status"] == 404
    assert client.get(url).status_code == 405


def test_the_heart_needs_csrf(make_product) -> None:
    strict = Client(enforce_csrf_checks=True)
    product = make_product()
    assert strict.post(reverse("wishlist:toggle", args=[product.pk]), {"change": "add"}).status_code == 403


def test_the_page_lists_saved_products_or_says_how_to_save(client, make_product) -> None:
    empty = client.get(reverse("wishlist:page")).content.decode()
    assert "Nothing saved yet" in empty
    product = make_product(name="On The List")
    client.post(reverse("wishlist:toggle", args=[product.pk]), {"change": "add"})
    page = client.get(reverse("wishlist:page")).content.decode()
    assert "On The List" in page and "1 saved product" in page and "log in" in page
