"""Shoppers' names for the catalogue's values, one map per attribute: "Skin" is a colour (shown
as "Skin") and a category (shown as "Skin care")."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shop import labels


@pytest.mark.parametrize(
    ("value", "attribute", "shown"),
    [
        ("Skin", "colour", "Skin"),
        ("Skin", "sub", "Skin care"),
        ("Tshirts", "type", "T-shirts"),
        ("Tshirts", "colour", "Tshirts"),
        ("Grey Melange", "colour", "Grey marl"),
        ("NA", "colour", "Other"),
        ("Smart Casual", "usage", "Smart casual"),
        ("Dress", "sub", "Dresses"),
        ("Men", "gender", "Men"),
        (None, "colour", ""),
        # Without the attribute (pass it): types, colours, occasions; not categories.
        ("Skin", "", "Skin"),
        ("Tshirts", "", "T-shirts"),
        ("Grey Melange", "", "Grey marl"),
        ("Dress", "", "Dress"),
    ],
)
def test_values_are_named_per_attribute(value, attribute, shown) -> None:
    assert labels.value_label(value, attribute) == shown


@pytest.mark.django_db
def test_a_skin_coloured_product_is_not_called_skin_care(client: Client, make_product) -> None:
    shoe = make_product(name="Catwalk Women Skin Heels", base_colour="Skin", article_type="Heels")
    make_product(name="Lotus Herbals Face Cream", master_category="Personal Care", sub_category="Skin")
    catalogue = client.get("/catalogue/").content.decode()
    card = re.search(r"<article[^>]*>(?:(?!</article>).)*Catwalk Women Skin Heels.*?</article>", catalogue, re.S)
    assert card and "· Skin" in card.group(0) and "Skin care" not in card.group(0)
    facet_values = re.findall(r'name="(sub|colour)" value="Skin"[^>]*>\s*<span class="facet-value">([^<]+)<', catalogue)
    assert sorted(facet_values) == [("colour", "Skin"), ("sub", "Skin care")]
    page = client.get(shoe.get_absolute_url()).content.decode()
    assert "Skin care" not in page
