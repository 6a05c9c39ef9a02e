"""The home page, the catalogue's new address and navigation: category menu, numbered
pagination, removable filter chips, favicon, footer, shopper labels, query counts."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached counts, plans and home rows are keyed by the catalogue version, which starts
    again in every test's rolled-back database: start each test with an empty cache."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def shop(make_product):
    made = [
        make_product(name="Vero Moda Women Blue Top", gender="Women", article_type="Tops", base_colour="Blue"),
        make_product(name="Puma Men Red Tshirt", gender="Men", article_type="Tshirts", base_colour="Red"),
        make_product(name="Gini and Jony Girls Pink Dress", gender="Girls", article_type="Dresses", base_colour="Pink"),
        make_product(
            name="Red Tape Men Black Formal Shoes",
            master_category="Footwear",
            sub_category="Shoes",
            article_type="Formal Shoes",
            base_colour="Black",
        ),
        make_product(
            name="Titan Women Gold Watch",
            gender="Women",
            master_category="Accessories",
            sub_category="Watches",
            article_type="Watches",
            base_colour="Gold",
            season="Winter",
            year=2016,
            external_id="12345",
        ),
    ]
    return {p.name: p for p in made}


def test_home_page_has_entry_points_photo_search_and_rows(client: Client, shop) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.templates[0].name == "shop/home.html"
    body = unescape(response.content.decode())
    # Entry points for Women, Men, Kids (Boys and Girls), Footwear, Accessories.
    for url in ("?gender=Women", "?gender=Men", "?gender=Boys&gender=Girls", "?master=Footwear", "?master=Accessories"):
        assert f'href="/catalogue/{url}' in body, url
    # "Search by photo" comes from visual search's hook, prominent in the hero.
    hero = re.search(r'<div class="hero-actions">(.*?)</div>', body, re.S).group(1)
    assert 'href="/search/photo/"' in hero and "Search by photo" in hero
    rows = {section.key: [p.name for p in products] for section, products in response.context["sections_rows"]}
    assert rows["women"] == ["Vero Moda Women Blue Top"]
    assert rows["kids"] == ["Gini and Jony Girls Pink Dress"]
    assert rows["footwear"] == ["Red Tape Men Black Formal Shoes"]
    assert rows["accessories"] == ["Titan Women Gold Watch"]


def test_home_page_queries_stay_few(client: Client, shop, make_product) -> None:
    client.get("/")  # warm the rows' cache
    with CaptureQueriesContext(connection) as few:
        assert client.get("/").status_code == 200
    for i in range(12):
        make_product(name=f"More Women Top {i}", gender="Women", article_type="Tops")
    client.get("/")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/").status_code == 200
    assert len(many) == len(few) <= 5, [q["sql"][:80] for q in many.captured_queries]


def test_old_catalogue_links_on_the_root_still_show_the_catalogue(client: Client, shop) -> None:
    response = client.get("/", {"q": "watch"})
    assert response.status_code == 200
    assert [p.name for p in response.context["page"].object_list] == ["Titan Women Gold Watch"]
    assert '<link rel="canonical" href="/catalogue/?q=watch">' in response.content.decode()
    # The header search (on every page) asks the catalogue itself.
    assert 'action="/catalogue/"' in client.get("/").content.decode()
    assert reverse("shop:catalogue") == "/catalogue/" and reverse("shop:home") == "/"


def test_header_has_a_category_menu_and_a_real_footer(client: Client, shop) -> None:
    body = client.get(reverse("shop:catalogue")).content.decode()
    bar = re.search(r'<nav class="category-bar".*?</nav>', body, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", bar) == ["Women", "Men", "Kids", "Footwear", "Accessories", "All products"]
    footer = re.search(r"<footer.*?</footer>", body, re.S).group(0)
    assert "Shop" in footer and 'href="/catalogue/?master=Footwear"' in footer


def test_numbered_pagination(client: Client, make_product) -> None:
    for i in range(24 * 9 + 1):  # ten pages
        make_product(name=f"Item {i:03d}")
    body = client.get("/catalogue/", {"page": 5}).content.decode()
    pages = re.search(r'<nav class="pagination".*?</nav>', body, re.S).group(0)
    shown = [unescape(t).strip() for t in re.findall(r"<(?:a|span)[^>]*>([^<]*)</(?:a|span)>", pages)]
    assert [t for t in shown if t not in {"←", "→", "Previous", "Next"}] == ["1", "…", "4", "5", "6", "…", "10"]
    assert '<span class="page-current" aria-current="page">5</span>' in pages
    assert 'href="?page=6"' in pages and 'href="?page=10"' in pages


def test_filter_chips_remove_one_value_at_a_time_and_clear_all(client: Client, shop) -> None:
    response = client.get("/catalogue/", {"colour": ["Blue", "Red"], "gender": "Men", "min_price": "100", "page": "1"})
    chips = {(c.label, c.value): c.remove_url for c in response.context["chips"]}
    assert set(chips) == {("Colour", "Blue"), ("Colour", "Red"), ("Gender", "Men"), ("Price", "from ₹100.00")}
    assert chips[("Colour", "Blue")] == "?colour=Red&gender=Men&min_price=100"
    assert chips[("Gender", "Men")] == "?colour=Blue&colour=Red&min_price=100"
    assert chips[("Price", "from ₹100.00")] == "?colour=Blue&colour=Red&gender=Men"
    body = response.content.decode()
    assert 'class="chip chip-clear" href="?"' in body
    with_text = client.get("/catalogue/", {"q": "shirt", "colour": "Red", "sort": "name"})
    assert with_text.context["clear_all_url"] == "?q=shirt&sort=name"


def test_shopper_labels_and_no_internal_fields(client: Client, shop, make_product) -> None:
    tee = shop["Puma Men Red Tshirt"]
    make_product(name="Nike Men Blue Tshirt", gender="Men", article_type="Tshirts")
    catalogue = client.get("/catalogue/").content.decode()
    assert "T-shirts" in catalogue and ">Tshirts<" not in catalogue
    facet_names = re.findall(r"<summary>([^<]+)</summary>", catalogue)
    assert facet_names == ["Gender", "Department", "Category", "Product type", "Colour", "Occasion"]  # no season
    page = client.get(tee.get_absolute_url()).content.decode()
    assert "More T-shirts for men" in page
    watch = client.get(shop["Titan Women Gold Watch"].get_absolute_url()).content.decode()
    details = re.search(r'<section class="product-details".*?</section>', watch, re.S).group(0)
    assert re.findall(r"<dt>([^<]+)</dt>", details) == ["Colour", "Category", "For", "Occasion"]
    for internal in ("Catalogue id", "12345", "Winter", "2016", "Season", "Year"):
        assert internal not in watch, internal


def test_cards_show_no_scores(client: Client, shop) -> None:
    from django.template.loader import render_to_string

    html = render_to_string("shop/_product_card.html", {"product": shop["Puma Men Red Tshirt"], "score": 0.7412})
    assert "0.74" not in html and "match" not in html


def test_favicon_is_linked_and_served(client: Client, db) -> None:
    body = client.get("/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', body)
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.ico")
    assert client.get("/admin/login/").status_code == 200


def test_catalogue_search_page_query_count_stays_low(client: Client, make_product) -> None:
    for i in range(5):
        make_product(name=f"Blue Kurta {i}", article_type="Kurtas")
    client.get("/catalogue/", {"q": "kurtha"})  # warm: the plan, counts and facets are cached
    with CaptureQueriesContext(connection) as few:
        client.get("/catalogue/", {"q": "kurtha"})
    for i in range(30):
        make_product(name=f"Red Kurta {i}", article_type="Kurtas")
    client.get("/catalogue/", {"q": "kurtha"})
    with CaptureQueriesContext(connection) as many:
        response = client.get("/catalogue/", {"q": "kurtha"})
    assert response.context["page"].paginator.count == 35
    assert len(many) == len(few) <= 4


def test_scripts_are_external_files(client: Client, db) -> None:
    body = client.get("/catalogue/").content.decode()
    assert re.search(r'<script src="/static/js/shop\.js" defer></script>', body)
    assert "<script>" not in body
    assert " onchange=" not in body


def test_home_page_renders_without_visual_search(shop) -> None:
    """The photo-search button comes from visual search's hook: without the app, no link."""
    from django.conf import settings
    from django.test import override_settings

    without = [app for app in settings.INSTALLED_APPS if app != "visualsearch"]
    with override_settings(INSTALLED_APPS=without, ROOT_URLCONF="tests.support.urls_without_visualsearch"):
        response = Client().get("/")
    body = response.content.decode()
    assert response.status_code == 200 and "Titan Women Gold Watch" in body
    assert "Search by photo" not in body and "/search/photo/" not in body
