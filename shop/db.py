"""Database helpers for migrations: SQL that only PostgreSQL understands."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def postgresql_only(statements: Sequence[str]) -> Callable:
    """A RunPython function running ``statements`` on PostgreSQL and nothing on SQLite
    (the embedded default scans where PostgreSQL uses these indexes)."""

    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run
