"""Breadcrumbs say the same on the shop's and visual search's pages: they start at "Home"."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def crumbs(body: str) -> list[tuple[str, str]]:
    nav = re.search(r'<nav class="breadcrumbs" aria-label="Breadcrumbs">.*?</nav>', body, re.S)
    assert nav, "no breadcrumbs"
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))


def test_product_and_similar_pages_start_at_home(client: Client, make_product) -> None:
    product = make_product(name="Puma Men Red Tshirt")
    on_product = crumbs(client.get(product.get_absolute_url()).content.decode())
    similar = client.get(f"/products/{product.pk}/similar/").content.decode()
    on_similar = crumbs(similar)
    assert on_product[0] == on_similar[0] == ("/", "Home")
    assert on_similar[1] == (product.get_absolute_url(), "Puma Men Red Tshirt")
    assert '<span aria-current="page">Similar looks</span>' in similar
    assert ">Catalogue</a>" not in similar
