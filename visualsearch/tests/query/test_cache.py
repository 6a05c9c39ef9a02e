"""visualsearch.query.cache: find similar's rankings kept in the "search" cache (the test
worker's Redis database) under the index's content; every change the index applies shows in
the next answer. Real index, real database, real Redis."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.core.cache import caches

from shop.models import Product, ProductVariant
from shop.services import catalogue_changes_announce
from tests.support.embeddings import store_vector
from visualsearch.index import get_index, reset_index
from visualsearch.query.cache import CACHE_ALIAS, similar_key
from visualsearch.query.similar import similar_to_product
from visualsearch.services.changelog import index_changes_record

pytestmark = pytest.mark.django_db


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(2048).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def stored(make_product: Callable[..., Product]) -> list[Product]:
    products = [make_product(gender="Men" if i % 2 else "Women") for i in range(8)]
    for seed, product in enumerate(products):
        store_vector(product, unit(seed))
    return products


def ranked(product: Product, **toggles: str) -> list[int]:
    return [item.product.pk for item in similar_to_product(product, k=3, toggles=toggles).results]


def test_the_second_answer_comes_from_the_cache_under_the_index_content(stored: list[Product]) -> None:
    first = ranked(stored[0])
    key = similar_key(get_index().content_key(), stored[0].pk, 3, {})  # type: ignore[attr-defined]
    rows, _version = caches[CACHE_ALIAS].get(key)
    assert [pid for pid, _score in rows] == first
    # What the cache holds is what is answered: a ranking planted under the key is served.
    planted = [stored[7].pk, stored[6].pk, stored[5].pk]
    caches[CACHE_ALIAS].set(key, ([(pid, 0.5) for pid in planted], _version))
    assert ranked(stored[0]) == planted


def test_processes_holding_the_same_content_share_keys_and_any_change_gives_new_ones(stored: list[Product]) -> None:
    index = get_index()
    before = index.content_key()  # type: ignore[attr-defined]
    reset_index()  # another process: loads the same rows from the database
    assert get_index().content_key() == before  # type: ignore[attr-defined]
    index_changes_record([stored[3].pk])
    assert get_index().content_key() != before  # type: ignore[attr-defined]


def test_a_deactivated_product_leaves_the_cached_ranking_at_once(stored: list[Product]) -> None:
    first = ranked(stored[0])
    gone = Product.objects.get(pk=first[0])
    gone.is_active = False
    gone.save()  # announced: the change log moves, the index applies it
    assert first[0] not in ranked(stored[0])


def test_a_new_embedding_shows_in_the_next_answer(stored: list[Product], make_product) -> None:
    ranked(stored[0])
    twin = make_product(gender="Women")
    store_vector(twin, unit(0) + 0.01 * unit(99))  # all but the query product's own vector
    index_changes_record([twin.pk])  # as the embedding service records a done vector
    assert ranked(stored[0])[0] == twin.pk


def test_a_sold_out_product_leaves_in_stock_only_rankings_at_once(stored: list[Product]) -> None:
    for product in stored:
        ProductVariant.objects.create(product=product, size="M", stock=3)
    catalogue_changes_announce([p.pk for p in stored])
    first = ranked(stored[0], in_stock="on")
    ProductVariant.objects.filter(product_id=first[0]).update(stock=0)
    catalogue_changes_announce([first[0]])  # as an order or the admin announces a stock change
    assert first[0] not in ranked(stored[0], in_stock="on")


def test_the_products_shown_are_read_fresh_with_every_answer(stored: list[Product]) -> None:
    first = similar_to_product(stored[0], k=3).results[0].product
    Product.objects.filter(pk=first.pk).update(name="Renamed without an announcement")
    again = similar_to_product(stored[0], k=3).results[0].product  # the ranking is cached
    assert again.pk == first.pk and again.name == "Renamed without an announcement"


def test_find_similar_answers_when_the_cache_cannot_be_reached(stored: list[Product], settings) -> None:
    expected = ranked(stored[0])
    settings.CACHES = {
        **settings.CACHES,
        CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    assert ranked(stored[0]) == expected


def test_no_caching_when_switched_off(stored: list[Product], settings) -> None:
    settings.VISUALSEARCH_SIMILAR_CACHE_SECONDS = 0
    ranked(stored[0])
    key = similar_key(get_index().content_key(), stored[0].pk, 3, {})  # type: ignore[attr-defined]
    assert caches[CACHE_ALIAS].get(key) is None
