"""Storefront pages: filters, search, sorting, pagination, product pages, 404s, query counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_product):
    """A small catalogue with known attributes."""
    products = {
        "red_tee": make_product(name="Puma Men Red Tshirt", base_colour="Red"),
        "blue_tee": make_product(name="Nike Men Blue Tshirt", base_colour="Blue"),
        "blue_shirt": make_product(name="Arrow Men Blue Shirt", article_type="Shirts", base_colour="Blue"),
        "women_top": make_product(
            name="Vero Moda Women Blue Top", gender="Women", article_type="Tops", base_colour="Blue"
        ),
        "watch": make_product(
            name="Titan Men Black Watch",
            master_category="Accessories",
            sub_category="Watches",
            article_type="Watches",
            base_colour="Black",
            usage="Formal",
        ),
        "hidden": make_product(name="Inactive Blue Shirt", article_type="Shirts", base_colour="Blue", is_active=False),
    }
    return products


def _names(response) -> list[str]:
    return [p.name for p in response.context["page"].object_list]


def test_catalogue_lists_active_products_only(client: Client, shop) -> None:
    response = client.get("/catalogue/")
    assert response.status_code == 200
    assert sorted(_names(response)) == sorted(p.name for k, p in shop.items() if k != "hidden")
    assert "Inactive Blue Shirt" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("colour=Blue", {"Nike Men Blue Tshirt", "Arrow Men Blue Shirt", "Vero Moda Women Blue Top"}),
        ("colour=Blue&gender=Men", {"Nike Men Blue Tshirt", "Arrow Men Blue Shirt"}),
        ("colour=Blue&colour=Red&type=Tshirts", {"Nike Men Blue Tshirt", "Puma Men Red Tshirt"}),
        ("master=Accessories", {"Titan Men Black Watch"}),
        ("q=blue+shirt", {"Arrow Men Blue Shirt"}),
        ("q=tshirt+nik", {"Nike Men Blue Tshirt"}),
        ("q=BLUE&gender=Women", {"Vero Moda Women Blue Top"}),
        ("usage=Formal", {"Titan Men Black Watch"}),
        ("q=nothing-like-this", set()),
    ],
)
def test_filters_and_search_combine(client: Client, shop, query: str, expected: set[str]) -> None:
    response = client.get(f"/catalogue/?{query}")
    assert response.status_code == 200
    assert set(_names(response)) == expected


def test_facet_counts_apply_the_other_filters(client: Client, shop) -> None:
    body = client.get("/catalogue/?gender=Men").content.decode()
    facets: dict[str, dict[str, int]] = {}
    for key, value, count in re.findall(
        r'name="(\w+)" value="([^"]+)"[^>]*>\s*<span class="facet-value">[^<]*</span> '
        r'<span class="facet-count">([\d,]+)',
        body,
    ):
        facets.setdefault(key, {})[value] = int(count.replace(",", ""))
    # Colour counts are within Men; gender counts ignore the gender filter itself.
    assert facets["colour"] == {"Blue": 2, "Red": 1, "Black": 1}
    assert facets["gender"] == {"Men": 4, "Women": 1}


def test_sorting_by_name(client: Client, shop) -> None:
    names = _names(client.get("/catalogue/?sort=name"))
    assert names == sorted(names)
    assert _names(client.get("/catalogue/?sort=-name")) == sorted(names, reverse=True)


def test_pagination_keeps_filters(client: Client, make_product) -> None:
    for i in range(30):
        make_product(name=f"Blue Item {i:02d}", base_colour="Blue")
    make_product(name="Green Item", base_colour="Green")
    first = client.get("/catalogue/?colour=Blue&sort=name")
    assert len(first.context["page"].object_list) == 24
    body = first.content.decode()
    next_link = re.search(r'href="(\?[^"]*page=2[^"]*)"', body).group(1).replace("&amp;", "&")
    assert "colour=Blue" in next_link and "sort=name" in next_link
    second = client.get("/catalogue/" + next_link)
    assert len(second.context["page"].object_list) == 6  # 30 blue items: 24 + 6
    assert all("Blue" in name for name in _names(second))


def test_catalogue_page_query_count_does_not_grow_with_products(client: Client, make_product) -> None:
    for i in range(5):
        make_product(name=f"Item {i}")
    client.get("/catalogue/")  # warm the facet cache
    with CaptureQueriesContext(connection) as few:
        client.get("/catalogue/?page=1")
    for i in range(30):
        make_product(name=f"More {i}")
    client.get("/catalogue/")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/catalogue/?page=1").status_code == 200
    assert len(many) == len(few)
    assert len(many) <= 4


def test_product_page_shows_attributes_breadcrumbs_and_find_similar(client: Client, shop) -> None:
    product = shop["blue_shirt"]
    response = client.get(reverse("shop:product_detail", args=[product.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert product.name in body
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', body, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", crumbs) == ["Home", "Apparel", "Tops &amp; shirts", "Shirts"]
    assert "/catalogue/?master=Apparel&amp;sub=Topwear&amp;type=Shirts" in crumbs
    assert reverse("visualsearch:similar", args=[product.pk]) in body
    assert shop["blue_tee"].name not in [p.name for p in response.context["more"]]  # other article type


@pytest.mark.parametrize("path", ["/products/999999/", "/products/abc/", "/no-such-page/"])
def test_unknown_pages_are_404_pages(client: Client, db, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "We couldn’t find that page" in response.content.decode()


def test_inactive_product_is_404(client: Client, shop) -> None:
    assert client.get(reverse("shop:product_detail", args=[shop["hidden"].pk])).status_code == 404


def test_grid_uses_thumbnails_for_large_images(client: Client, make_product, make_image) -> None:
    from shop.services import product_image_derivatives_update

    big = make_product(name="Big Photo Product", image=make_image(size=(1200, 1600)))
    product_image_derivatives_update(big)
    big.refresh_from_db()
    assert big.thumbnail.name.startswith("thumbs/")
    assert big.thumbnail.width <= 300 and big.thumbnail.height <= 400
    body = client.get("/catalogue/").content.decode()
    assert big.thumbnail.url in body
    assert f'src="{big.image.url}"' not in body
