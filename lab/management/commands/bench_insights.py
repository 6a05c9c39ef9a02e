"""``python manage.py bench_insights``: what insights' recording adds to find similar and text
search pages (target: p50 with recording on within 10% of off), measured in-process with the
two settings interleaved request by request."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from lab.bench_insights import RecordingFigure, recording_cost
from shop.models import Product

TARGET = 1.10


class Command(BaseCommand):
    help = "p50 of find-similar and text-search pages with insights recording on vs off (interleaved)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=300, help="Requests per setting and page (default 300).")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(Product.objects.filter(is_active=True, embedding__status="done").values_list("pk", flat=True)[:200])
        if not ids:
            raise CommandError("No embedded products: import some and embed them (or seed_synthetic_embeddings).")
        words = list(Product.objects.filter(is_active=True).values_list("article_type", flat=True).distinct()[:50])
        pages = {
            "find similar": [reverse("visualsearch:similar", args=[pk]) for pk in ids],
            "text search": [f"{reverse('shop:catalogue')}?q={w.replace(' ', '+').lower()}" for w in words],
        }

        def show(figure: RecordingFigure) -> None:
            verdict = "ok" if figure.ratio <= TARGET else "OVER TARGET"
            self.stdout.write(
                f"{figure.page:13} {figure.requests} × 2 requests  p50 off {figure.off_p50_ms:7.2f} ms  "
                f"on {figure.on_p50_ms:7.2f} ms  ratio {figure.ratio:.3f}  (means {figure.off_mean_ms:.2f} / "
                f"{figure.on_mean_ms:.2f} ms)  {verdict}"
            )

        self.stdout.write(f"target: p50 on / off ≤ {TARGET:.2f}; events go to the buffer (Redis when REDIS_URL is set)")
        recording_cost(pages, rounds=options["rounds"], on_page=show)
