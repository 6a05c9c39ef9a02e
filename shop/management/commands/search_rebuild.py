"""Refill the SQLite search table (FTS5) from the products, recreating its triggers if they
are missing. On PostgreSQL there is nothing to rebuild: the search vector is a generated
column."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from shop.search import sqlite as search_sqlite


class Command(BaseCommand):
    help = "Rebuild the text search table on SQLite (the embedded default); nothing to do on PostgreSQL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args, **options) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            self.stdout.write("PostgreSQL keeps its search vector itself: nothing to rebuild.")
            return
        if not search_sqlite.fts_installed(connection):
            raise CommandError("The search table is missing: run `manage.py migrate` first.")
        search_sqlite.fts_install(connection)
        count = search_sqlite.fts_refill(connection)
        self.stdout.write(self.style.SUCCESS(f"Search table rebuilt: {count} active products."))
