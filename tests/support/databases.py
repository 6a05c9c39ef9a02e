"""Running a test against the SQLite database (``DATABASES["sqlite"]``, a file) instead of the
suite's PostgreSQL: ``on_sqlite()`` routes every model's reads and writes there, so the code
under test (``Product.objects…``, raw cursors through ``router``) runs on SQLite for real. The
test must declare the alias: ``pytest.mark.django_db(databases=["default", "sqlite"])``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import override_settings

SQLITE = "sqlite"


class SqliteRouter:
    def db_for_read(self, model, **hints) -> str:
        return SQLITE

    def db_for_write(self, model, **hints) -> str:
        return SQLITE

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True


@contextmanager
def on_sqlite() -> Iterator[None]:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.SqliteRouter"]):
        yield
