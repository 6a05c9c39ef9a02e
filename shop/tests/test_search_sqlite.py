"""SQLite's search table (FTS5, shop/search/sqlite.py) stays in step with the products whatever
writes them, survives a migration that remakes ``shop_product``, and can be rebuilt by command.
Runs on the SQLite file ``DATABASES["sqlite"]`` with every model routed to it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from shop import search as catalogue_search
from shop.models import Product
from shop.search import sqlite as search_sqlite
from tests.support.databases import on_sqlite
from tests.support.products import PRODUCT_ATTRIBUTES

pytestmark = pytest.mark.django_db(databases=["default", "sqlite"])


@pytest.fixture(autouse=True)
def _sqlite():
    from django.core.cache import cache

    cache.clear()
    with on_sqlite():
        assert catalogue_search.backend() == "sqlite"
        yield


def found(text: str) -> set[str]:
    plan = catalogue_search.text_search(text)
    return set(Product.objects.filter(is_active=True).filter(plan.condition()).values_list("name", flat=True))


def make(name: str, **fields) -> Product:
    return Product.objects.create(name=name, image="products/x.jpg", **{**PRODUCT_ATTRIBUTES, **fields})


def indexed_rows() -> int:
    with connections["sqlite"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {search_sqlite.TABLE}")
        return int(cursor.fetchone()[0])


def test_the_search_table_follows_saves_edits_deactivation_and_deletes() -> None:
    product = make("Roadster Men Red Checked Shirt")
    assert found("checked shirts") == {"Roadster Men Red Checked Shirt"}
    product.name = "Roadster Men Red Striped Shirt"
    product.save()
    assert found("checked") == set() and found("striped") == {"Roadster Men Red Striped Shirt"}
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert found("striped") == set() and indexed_rows() == 0
    Product.objects.filter(pk=product.pk).update(is_active=True, base_colour="Olive")
    assert found("olive striped") == {"Roadster Men Red Striped Shirt"}
    product.delete()
    assert found("striped") == set() and indexed_rows() == 0


def test_bulk_created_products_are_searchable() -> None:
    Product.objects.bulk_create(
        Product(name=f"Bulk Women Blue Dress {i}", image="products/x.jpg", **PRODUCT_ATTRIBUTES) for i in range(5)
    )
    assert len(found("dresses")) == 5 and len(found("women blue")) == 5


def test_after_a_migration_remakes_the_table_the_triggers_come_back_and_the_table_is_refilled() -> None:
    """SQLite's ALTER TABLE remakes ``shop_product``, which drops its triggers: the shop's
    post_migrate receiver recreates them and refills the table with what was missed."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    connection = connections["sqlite"]
    with connection.cursor() as cursor:
        for name in search_sqlite.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    make("Missed While Migrating Sandals")
    assert found("sandals") == set()
    post_migrate.send(sender=apps.get_app_config("shop"), app_config=apps.get_app_config("shop"), using="sqlite")
    assert found("sandals") == {"Missed While Migrating Sandals"}
    make("Written After Sneakers")
    assert found("sneakers") == {"Written After Sneakers"}


def test_search_rebuild_command_refills_the_table() -> None:
    make("Rebuilt Men Brown Belt")
    with connections["sqlite"].cursor() as cursor:
        cursor.execute(f"DELETE FROM {search_sqlite.TABLE}")
    assert found("belt") == set()
    out = StringIO()
    call_command("search_rebuild", database="sqlite", stdout=out)
    assert "Search table rebuilt: 1 active products." in out.getvalue()
    assert found("belts") == {"Rebuilt Men Brown Belt"}


def test_search_rebuild_on_postgresql_has_nothing_to_do() -> None:
    out = StringIO()
    call_command("search_rebuild", stdout=out)
    assert "nothing to rebuild" in out.getvalue()


@pytest.mark.parametrize(
    ("word", "vocabulary", "closest"),
    [
        ("kurtha", ["kurta", "kurti", "shirt"], ("kurta",)),
        ("tshrt", ["tshirt", "shirt", "short"], ("tshirt",)),
        ("shoos", ["shoe", "shirt", "sock"], ("shoe",)),
        ("zzqqxx", ["kurta", "shoe"], ()),
        ("skin", ["bikini"], ()),
    ],
)
def test_closest_words_keep_the_best_matches_only(word, vocabulary, closest) -> None:
    assert search_sqlite.closest_words(word, vocabulary) == closest


def test_stop_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert search_sqlite.without_stop_words(("watch", "for", "women")) == ("watch", "women")
    assert search_sqlite.without_stop_words(("for",)) == ("for",)
