"""The home page's tiles and "New in" rows open with a product that shows what the section is
about (shop.selectors.home_rows and each section's leading article types): "Women" opens
with a top or a dress, not with lingerie, even when the lingerie is newer."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from shop.selectors import HOME_SECTIONS, home_rows


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _women(make_product, article_type: str, name: str):
    return make_product(name=name, gender="Women", master_category="Apparel", article_type=article_type)


def _row(key: str, version: str) -> list[str]:
    return [p.name for section, products in home_rows(version) if section.key == key for p in products]


@pytest.mark.django_db
def test_women_opens_with_a_representative_product_not_lingerie(client, make_product) -> None:
    _women(make_product, "Kurtas", "Older Kurta")
    _women(make_product, "Tops", "Older Top")
    _women(make_product, "Bra", "Newest Bra")  # the newest (highest id, same year)
    _women(make_product, "Briefs", "Newest Briefs")
    row = _row("women", "v1")
    assert row[0] == "Older Kurta"  # Kurtas are preferred to Tops for the "Women" tile
    assert set(row) == {"Older Kurta", "Older Top", "Newest Bra", "Newest Briefs"}  # nothing dropped
    assert row[1:] == ["Newest Briefs", "Newest Bra", "Older Top"]  # the rest stay newest first
    # The tile shows the same product's image.
    html = client.get("/").content.decode()
    tiles = html[html.index('class="entry-points"') :]
    first_tile = tiles[: tiles.index("</li>")]
    from shop.models import Product

    assert Product.objects.get(name="Older Kurta").card_image_url in first_tile


@pytest.mark.django_db
def test_a_section_without_its_leading_types_in_the_row_fetches_one(make_product) -> None:
    _women(make_product, "Dresses", "Old Dress")
    for i in range(8):  # newer lingerie fills the 6-product row on its own (2 per type)
        _women(make_product, ["Bra", "Briefs", "Nightdress", "Lounge Pants"][i % 4], f"Night {i}")
    row = _row("women", "v2")
    assert row[0] == "Old Dress" and len(row) == 6


@pytest.mark.django_db
def test_without_any_leading_type_the_newest_leads(make_product) -> None:
    _women(make_product, "Bra", "Only Bra")
    _women(make_product, "Briefs", "Only Briefs")
    assert _row("women", "v3") == ["Only Briefs", "Only Bra"]


def test_every_section_names_its_leading_types() -> None:
    assert all(section.leading_types for section in HOME_SECTIONS)
