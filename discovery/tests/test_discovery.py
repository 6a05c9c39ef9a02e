"""Recently viewed (in the session only) and "Inspired by what you viewed": lookalikes of the
viewed products from find similar's vectors, never a viewed one, in stock, at most two of one
article type; no row at all before anything was viewed.

The catalogue's look order is known (tests.support.lookalikes): products 1, 2, 3… look less
and less like product 0, and a second fan of products looks like product 20."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from discovery.selectors import SESSION_KEY, inspired_by, recently_viewed_ids
from discovery.services import recently_viewed_add
from shop.models import Product, ProductVariant
from tests.support.catalogue import stored_catalogue
from tests.support.lookalikes import fanned_vectors

pytestmark = pytest.mark.django_db

# The closest lookalikes of product 0 share a type: a row of the nearest alone is not varied.
TYPES = {"Tshirts": (1, 7), "Shirts": (7, 13), "Jeans": (13, 17), "Kurtas": (17, 20)}


@pytest.fixture
def two_fans() -> list[Product]:
    """40 products: 0–19 fan out from product 0, 20–39 from product 20 (two unrelated looks).
    Products 1–19 are of four article types in runs (TYPES)."""
    vectors = fanned_vectors(20, seed=1) + fanned_vectors(20, seed=2)
    products = stored_catalogue(40, vectors)
    for article_type, (start, stop) in TYPES.items():
        Product.objects.filter(pk__in=[p.pk for p in products[start:stop]]).update(article_type=article_type)
    Product.objects.filter(pk__in=[p.pk for p in products[21:40]]).update(article_type="Watches")
    return list(Product.objects.filter(pk__in=[p.pk for p in products]).order_by("pk"))


def test_the_session_keeps_the_latest_views_first_once_each(settings) -> None:
    settings.DISCOVERY_RECENT_MAX = 3
    session = SessionStore()
    for pk in (1, 2, 3, 2, 4):
        recently_viewed_add(session, pk)
    assert recently_viewed_ids(session) == [4, 2, 3]
    session[SESSION_KEY] = ["x", True, 7, None]  # whatever a tampered or old session holds
    assert recently_viewed_ids(session) == [7]


def test_inspired_by_is_lookalikes_not_viewed_in_stock_and_varied(two_fans: list[Product]) -> None:
    fan = two_fans[:20]
    ProductVariant.objects.filter(product=fan[2]).update(stock=0)
    picked = inspired_by([fan[0].pk, fan[1].pk], limit=6)
    ids = [p.pk for p in picked]
    assert len(ids) == 6
    assert set(ids) <= {p.pk for p in fan[3:20]}  # the same look; never the other fan
    assert fan[0].pk not in ids and fan[1].pk not in ids  # never what was viewed
    assert fan[2].pk not in ids  # never sold out
    assert all(p.in_stock for p in picked)
    types = [p.article_type for p in picked]
    assert max(types.count(t) for t in set(types)) <= 2  # varied
    assert fan[3].pk in ids and fan[7].pk in ids  # the closest unviewed, in stock, of each type


def test_inspired_by_mixes_the_looks_of_every_viewed_product(two_fans: list[Product]) -> None:
    picked = inspired_by([two_fans[0].pk, two_fans[20].pk], limit=4)
    ids = {p.pk for p in picked}
    assert ids & {p.pk for p in two_fans[1:20]} and ids & {p.pk for p in two_fans[21:40]}
    assert inspired_by([]) == []
    first = inspired_by([two_fans[0].pk], limit=1)[0]
    assert first.pk not in {p.pk for p in inspired_by([two_fans[0].pk], exclude={first.pk})}  # e.g. in the bag


def test_no_row_before_anything_was_viewed_then_both_rows(client: Client, two_fans: list[Product]) -> None:
    home = client.get(reverse("shop:home")).text
    assert "Inspired by what you viewed" not in home and "Recently viewed" not in home
    viewed = [two_fans[0], two_fans[1], two_fans[20]]
    for product in viewed:
        assert client.get(product.get_absolute_url()).status_code == 200
    assert client.session[SESSION_KEY] == [p.pk for p in reversed(viewed)]
    response = client.get(reverse("shop:home"))
    page = response.text
    assert "Inspired by what you viewed" in page and "Recently viewed" in page
    inspired = page[page.index('data-discovery="inspired"') : page.index('data-discovery="recent"')]
    recent = page[page.index('data-discovery="recent"') :]
    for product in viewed:
        assert f'data-product-id="{product.pk}"' not in inspired
        assert f'data-product-id="{product.pk}"' in recent
    assert inspired.count("data-product-id=") == 6
    # The bag shows them too (an empty bag is a good place for ideas).
    bag = client.get(reverse("bag:detail")).text
    assert "Inspired by what you viewed" in bag
    # A product page lists the other recently viewed products, not itself, and no "Inspired by".
    detail = client.get(two_fans[0].get_absolute_url()).text
    assert "Recently viewed" in detail and "Inspired by what you viewed" not in detail
    recent = detail[detail.index('data-discovery="recent"') :]
    assert f'data-product-id="{two_fans[0].pk}"' not in recent


def test_nothing_about_a_guest_is_stored_but_the_session(client: Client, two_fans: list[Product]) -> None:
    from django.contrib.sessions.models import Session

    client.get(two_fans[0].get_absolute_url())
    assert Session.objects.count() == 1
    assert Session.objects.get().get_decoded()[SESSION_KEY] == [two_fans[0].pk]


def test_an_empty_index_means_no_inspired_row(client: Client, make_product) -> None:
    product = make_product()
    client.get(product.get_absolute_url())
    page = client.get(reverse("shop:home")).text
    assert "Inspired by what you viewed" not in page and "Recently viewed" in page


def test_the_bag_leaves_out_of_inspired_by_what_is_in_it(client: Client, two_fans: list[Product]) -> None:
    Product.objects.update(price=Decimal("499.00"))
    client.get(two_fans[0].get_absolute_url())
    first = inspired_by([two_fans[0].pk], limit=1)[0]
    bag = client.get(reverse("bag:detail")).text
    assert f'data-product-id="{first.pk}"' in bag[bag.index('data-discovery="inspired"') :]
    variant = first.variants.first()
    assert variant is not None
    client.post(reverse("bag:add"), {"variant": variant.pk, "quantity": 1})
    bag = client.get(reverse("bag:detail")).text
    assert "bag-line" in bag
    inspired = bag[bag.index('data-discovery="inspired"') : bag.index('data-discovery="recent"')]
    assert f'data-product-id="{first.pk}"' not in inspired and inspired.count("data-product-id=") == 6
