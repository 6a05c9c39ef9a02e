"""``python manage.py bench_decode``: peak memory of decoding hostile-but-valid images the
way photo search decodes uploads (target: each adds < 100 MB to the process)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from lab.decoding_benchmark import TARGET_MB, DecodeFigure, decode_memory, default_cases
from visualsearch.conf import vs_settings


class Command(BaseCommand):
    help = "Peak memory of decoding large images as photo search does (each in a fresh process)."

    def handle(self, *args: Any, **options: Any) -> None:
        query_limit = vs_settings.QUERY_MAX_PIXELS

        def show(figure: DecodeFigure) -> None:
            verdict = "ok" if figure.added_mb < TARGET_MB else "OVER TARGET"
            self.stdout.write(
                f"{figure.name:28} {figure.file_bytes / 1e3:9.0f} KB  {figure.pixels / 1e6:5.1f} MP  "
                f"+{figure.added_mb:6.1f} MB  {verdict}  {figure.outcome}"
            )

        self.stdout.write(f"target: each decode adds < {TARGET_MB:.0f} MB (query limit {query_limit / 1e6:.0f} MP)")
        decode_memory(default_cases(), max_pixels=settings.MAX_IMAGE_PIXELS, query_max_pixels=query_limit, on_case=show)
