"""shop.caching: the catalogue's counts and facet counts, computed once per catalogue version for
every process (the "catalogue" cache: the test worker's Redis database), and a product change
shows in the next page. Real database, real Redis."""

from __future__ import annotations

import re

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shop import selectors
from shop.caching import CACHE_ALIAS
from shop.models import Product

pytestmark = pytest.mark.django_db


def _count(client: Client, path: str = "/catalogue/") -> int:
    body = client.get(path).content.decode()
    return int(re.search(r'<span class="count">([\d,]+) item', body).group(1).replace(",", ""))


def _facet(client: Client, value: str, path: str = "/catalogue/") -> int:
    body = client.get(path).content.decode()
    match = re.search(
        rf'value="{value}"[^>]*>\s*<span class="facet-value">[^<]*</span> <span class="facet-count">(\d+)', body
    )
    return int(match.group(1)) if match else 0


def test_counts_are_computed_once_per_version_for_every_process(client: Client, make_product) -> None:
    for i in range(3):
        make_product(name=f"Item {i}", base_colour="Red")
    assert _count(client) == 3
    version = selectors.catalogue_version()
    query = selectors.CatalogueQuery()
    assert caches[CACHE_ALIAS].get(f"count:{version}:{query.cache_key()}") == 3  # shared, not per process
    caches["default"].clear()  # another process: its own memory is empty, the shared cache is not
    with CaptureQueriesContext(connection) as queries:
        assert _count(client) == 3
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]  # no count, no facet count


def test_a_new_product_shows_in_the_counts_at_once(client: Client, make_product) -> None:
    make_product(name="Red tee", base_colour="Red")
    assert (_count(client), _facet(client, "Red")) == (1, 1)
    make_product(name="Another red tee", base_colour="Red")
    assert (_count(client), _facet(client, "Red")) == (2, 2)


def test_an_edited_or_withdrawn_product_shows_in_the_counts_at_once(client: Client, make_product) -> None:
    red = make_product(name="Red tee", base_colour="Red")
    make_product(name="Blue tee", base_colour="Blue")
    assert (_facet(client, "Red"), _facet(client, "Blue")) == (1, 1)
    red.base_colour = "Blue"
    red.save()
    assert (_facet(client, "Red"), _facet(client, "Blue")) == (0, 2)
    red.is_active = False
    red.save()
    assert (_count(client), _facet(client, "Blue")) == (1, 1)
    Product.objects.filter(pk=red.pk).delete()
    assert _count(client) == 1


def test_filtered_counts_have_keys_of_their_own(client: Client, make_product) -> None:
    make_product(name="Red tee", base_colour="Red")
    make_product(name="Blue tee", base_colour="Blue")
    assert _count(client, "/catalogue/?colour=Red") == 1
    assert _count(client) == 2
    assert _count(client, "/catalogue/?colour=Red&colour=Blue") == 2


def test_pages_answer_when_the_cache_cannot_be_reached(client: Client, make_product, settings) -> None:
    make_product(name="Red tee", base_colour="Red")
    settings.CACHES = {
        **settings.CACHES,
        CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    assert (_count(client), _facet(client, "Red")) == (1, 1)
