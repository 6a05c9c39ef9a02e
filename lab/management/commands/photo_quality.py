"""``python manage.py photo_quality [--crop 200] [--threshold 200] [--cache var/cache]``

Measures photo search's "crop to search" (self@5 of products placed on a larger background:
whole photo, default box, shopper's box) and calibrates the "no close match" threshold
(catalogue shopper photos vs non-fashion images), on the cached vectors of a catalogue slice
and the shared catalogue's photos (``lab.photo_quality``). Needs the
model; writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import photo_quality

_SHARED = Path(settings.BASE_DIR).parent / "shared"


class Command(BaseCommand):
    help = "Photo search: crop-to-search self@5 and the 'no close match' threshold, on cached catalogue vectors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--crop", type=int, default=200, help="Placed photos for the crop measurement (0: none).")
        parser.add_argument("--threshold", type=int, default=200, help="Shopper photos for the threshold (0: none).")
        parser.add_argument("--cache", default=str(Path(settings.BASE_DIR) / "var" / "cache"))
        parser.add_argument("--slice", type=int, default=20000, help="Size of the cached vector slice.")
        parser.add_argument(
            "--catalogue",
            default=os.environ.get(
                "CATALOGUE_DIR", str(Path(settings.BASE_DIR).parent / "shared/datasets/fashion-small")
            ),
        )

    def handle(self, *args: object, crop: int, threshold: int, cache: str, catalogue: str, **options: object) -> None:
        images = Path(catalogue) / "images"
        try:
            data = photo_quality.Slice.load(Path(cache), int(str(options["slice"])))
        except FileNotFoundError as exc:
            raise CommandError(f"No cached vector slice: {exc}") from None
        if not images.is_dir():
            raise CommandError(f"No catalogue photos at {images} (set --catalogue or CATALOGUE_DIR).")

        def read_image(catalogue_id: int) -> bytes:
            return (images / f"{catalogue_id}.jpg").read_bytes()

        search = photo_quality.SliceSearch(data)
        crop_report = photo_quality.measure_crop(search, read_image, crop) if crop > 0 else None
        threshold_report = None
        if threshold > 0:
            crop_scores = None if crop_report is None else crop_report.best_scores
            threshold_report = photo_quality.measure_threshold(search, read_image, threshold, crop_scores)
        for line in photo_quality.report_lines(crop_report, threshold_report):
            self.stdout.write(line)
