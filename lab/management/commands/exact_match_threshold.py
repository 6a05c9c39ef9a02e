"""``python manage.py exact_match_threshold [--photos 400] [--max-false-listed 0.01] [--max-false-unlisted 0.05]``

Calibrates VISUALSEARCH_PHOTO_EXACT_THRESHOLD, the score at which photo search calls its best
match the photographed product (``lab.exact_match``): shopper photos of stored products outside
the evaluation split, searched among those products, with and without their own product. Needs
the model and an embedded catalogue (``reindex``); writes nothing.
"""

from __future__ import annotations

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import exact_match
from lab.relevance import load_catalogue
from visualsearch.conf import vs_settings
from visualsearch.ml.head import split_of


class Command(BaseCommand):
    help = "Photo search: calibrate the exact-match threshold on products outside the evaluation split."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--photos", type=int, default=400, help="Shopper photos (half standard, half hard).")
        parser.add_argument(
            "--max-false-listed", type=float, default=0.01, help="Most wrong 'exact' matches of products sold."
        )
        parser.add_argument(
            "--max-false-unlisted", type=float, default=0.05, help="Most 'exact' matches for products not sold."
        )

    def handle(
        self, *args: object, photos: int, max_false_listed: float, max_false_unlisted: float, **options: object
    ) -> None:
        from shop.models import Product

        catalogue = load_catalogue()
        keep = split_of(catalogue.ids) != "eval"
        if keep.sum() < 50:
            raise CommandError(f"Only {int(keep.sum())} embedded products outside the evaluation split: reindex first.")
        colours = catalogue.colours if catalogue.colours is not None else np.full((len(catalogue.ids), 1), np.nan)
        checksums = catalogue.checksums if catalogue.checksums is not None else np.full(len(catalogue.ids), "")
        gallery = exact_match.Gallery(
            catalogue.ids[keep], catalogue.vectors[keep], colours[keep], np.asarray(checksums)[keep]
        )
        products = Product.objects.in_bulk([int(pid) for pid in gallery.ids])

        def read_image(product_id: int) -> bytes:
            with products[product_id].image.open("rb") as handle:
                return handle.read()

        report = exact_match.measure(
            gallery,
            read_image,
            min(photos, len(gallery.ids)),
            max_false_listed=max_false_listed,
            max_false_unlisted=max_false_unlisted,
            progress=self.stderr.write,
        )
        for line in exact_match.report_lines(report, float(vs_settings.PHOTO_EXACT_THRESHOLD)):
            self.stdout.write(line)
