"""python manage.py import_catalogue PATH [--limit N] [--ids FILE] [--demo-prices] [--demo-stock]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from shop.importing.catalogue import catalogue_import, count_rows
from shop.importing.demo import demo_prices_apply, demo_stock_apply


class Command(BaseCommand):
    help = (
        "Import products from a folder in the Fashion Product Images layout "
        "(PATH/styles.csv and PATH/images/<id>.jpg). Idempotent: re-running updates changed rows only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Folder holding styles.csv and images/")
        parser.add_argument("--limit", type=int, help="Import at most N rows")
        parser.add_argument("--ids", type=Path, help="File with the ids to import, one per line")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--no-embeddings",
            action="store_true",
            help="Do not queue embeddings for the imported products (run `reindex --missing` later)",
        )
        parser.add_argument(
            "--demo-prices",
            action="store_true",
            help="Demo data: give imported products without a price a deterministic price by article type",
        )
        parser.add_argument(
            "--demo-stock",
            action="store_true",
            help="Demo data: give imported products without sizes deterministic sizes and stock (some sold out)",
        )

    def handle(
        self,
        *args: object,
        path: Path,
        limit: int | None,
        ids: Path | None,
        batch_size: int,
        no_embeddings: bool,
        demo_prices: bool = False,
        demo_stock: bool = False,
        **options: Any,
    ) -> None:
        if not (path / "styles.csv").is_file():
            raise CommandError(
                f"{path} has no styles.csv. Point PATH at a Fashion Product Images folder "
                "(styles.csv + images/), e.g. ../shared/datasets/fashion-small"
            )
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number")
        id_set = None
        if ids is not None:
            try:
                id_set = {line.strip() for line in ids.read_text().splitlines() if line.strip()}
            except OSError as exc:
                raise CommandError(f"cannot read --ids file {ids}: {exc.strerror}") from None
        total = count_rows(path, ids=id_set, limit=limit)
        verbose = int(options.get("verbosity", 1)) > 0
        # One bar, on a terminal only (disable=None): in a log every redraw would be a line of
        # its own ("0%" then "100%"); skip messages go to the same stream, above the bar. A
        # quick import shows no bar at all, only the summary (delay).
        out = self.stderr._out
        with tqdm(
            total=total, unit="rows", desc="Importing", disable=True if not verbose else None, file=out, delay=0.5
        ) as bar:
            result = catalogue_import(
                path,
                ids=id_set,
                limit=limit,
                batch_size=batch_size,
                on_progress=bar.update,
                on_skip=lambda message: tqdm.write(message, file=out),
                announce_images=not no_embeddings,
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.processed} rows in {result.seconds:.1f} s: "
                f"{result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged, {result.skipped} skipped."
            )
        )
        id_list = sorted(id_set) if id_set is not None else None
        if demo_prices:
            self.stdout.write(f"Demo prices: {demo_prices_apply(id_list)} products priced.")
        if demo_stock:
            self.stdout.write(f"Demo stock: {demo_stock_apply(id_list)} products given sizes and stock.")
