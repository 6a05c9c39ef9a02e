"""``python manage.py bench_decode``: peak memory of decoding hostile-but-valid images along
each path that decodes images: photo search's uploads (target: each adds < 100 MB to the
process), staff's admin uploads, imports and thumbnails, and the embedding worker (target:
< 150 MB). ``--path`` picks one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from lab.decoding_benchmark import PATHS, STAFF_TARGET_MB, TARGET_MB, DecodeFigure, decode_memory, default_cases
from shop.conf import shop_settings
from visualsearch.conf import vs_settings


class Command(BaseCommand):
    help = "Peak memory of decoding large images along each decoding path (each in a fresh process)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", choices=PATHS, action="append", help="Only this path (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["path"] or PATHS:
            search = path == "photo-search"
            limit = vs_settings.QUERY_MAX_PIXELS if search else shop_settings.IMAGE_MAX_DECODED_PIXELS
            target = TARGET_MB if search else STAFF_TARGET_MB

            def show(figure: DecodeFigure, target: float = target) -> None:
                verdict = "ok" if figure.added_mb < target else "OVER TARGET"
                self.stdout.write(
                    f"  {figure.name:28} {figure.file_bytes / 1e3:9.0f} KB  {figure.pixels / 1e6:5.1f} MP  "
                    f"+{figure.added_mb:6.1f} MB  {verdict}  {figure.outcome}"
                )

            self.stdout.write(
                f"{path}: target each decode adds < {target:.0f} MB "
                f"(full-size formats up to {limit / 1e6:.0f} MP, JPEG up to {settings.MAX_IMAGE_PIXELS / 1e6:.0f} MP)"
            )
            decode_memory(
                default_cases(), max_pixels=settings.MAX_IMAGE_PIXELS, query_max_pixels=limit, path=path, on_case=show
            )
