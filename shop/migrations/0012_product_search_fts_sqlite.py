"""SQLite only (the embedded default): the catalogue's full-text search table, FTS5 with the
porter stemmer, and the triggers that keep it in step with ``shop_product`` (see
shop/search/sqlite.py). PostgreSQL has its search vector since 0007."""

from django.db import migrations


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        from shop.search.sqlite import fts_install

        fts_install(schema_editor.connection)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        from shop.search.sqlite import fts_drop

        fts_drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("shop", "0011_newest_sort_by_created")]
    operations = [migrations.RunPython(install, drop)]
