"""Fixtures for the text search's tests on both backends (pytest plugin: conftest.py).

``search_backend``: the test runs once on PostgreSQL (the suite's database) and once with every
model routed to SQLite (``DATABASES["sqlite"]``, a file; tests.support.databases). The test
module must declare both aliases: ``pytest.mark.django_db(databases=["default", "sqlite"])``.

``search_subset``: a fixed subset of the real catalogue saved in bulk on that backend: 300 rows
spread over the 20 commonest article types (tests.support.catalogue.catalogue_rows), plus the
first 12 dresses, the first 3 red dresses (none of the 12 is red: "red dress" is the issue's own
example) and 12 other kids' products not among them — 327 products."""

from __future__ import annotations

import csv
import functools

import pytest

from tests.support.catalogue import catalogue_dir, catalogue_rows, product_fields
from tests.support.databases import on_sqlite

SEARCH_BACKENDS = ["postgresql", "sqlite"]


@functools.cache
def subset_rows() -> tuple[dict[str, str], ...]:
    rows = catalogue_rows(300)
    ids = {r["id"] for r in rows}
    with (catalogue_dir() / "styles.csv").open(newline="", encoding="utf-8") as handle:
        everything = [r for r in csv.DictReader(handle) if r["id"] not in ids]
    dresses = [r for r in everything if r["articleType"] == "Dresses"][:12]
    red = [r for r in everything if r["articleType"] == "Dresses" and r["baseColour"] == "Red"][:3]
    kids = [r for r in everything if r["gender"] in {"Boys", "Girls"} and r not in dresses][:12]
    return tuple(rows + dresses + red + kids)


@pytest.fixture(params=SEARCH_BACKENDS)
def search_backend(request):
    """The search backend the test runs on: PostgreSQL, or every model routed to SQLite."""
    from shop.search import backend

    if request.param == "sqlite":
        with on_sqlite():
            assert backend() == "sqlite"
            yield request.param
    else:
        assert backend() == "postgresql"
        yield request.param


@pytest.fixture
def search_subset(search_backend) -> int:
    """The subset saved in bulk (PostgreSQL's search vector is a generated column, SQLite's
    FTS5 table is kept by triggers: both are filled whatever writes the row). Caches are keyed
    by the catalogue version, which starts again in every rolled-back database: emptied."""
    from django.core.cache import cache

    from shop.models import Product

    cache.clear()
    Product.objects.bulk_create(
        Product(**product_fields(row), usage=row["usage"], image=f"products/{row['id']}.jpg") for row in subset_rows()
    )
    return len(subset_rows())
