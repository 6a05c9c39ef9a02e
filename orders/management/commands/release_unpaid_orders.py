"""python manage.py release_unpaid_orders [--minutes N]: what the periodic task does, by hand."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from orders.services import orders_release_expired


class Command(BaseCommand):
    help = "Cancel orders still unpaid after the payment timeout and return their stock."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--minutes", type=int, help="Timeout in minutes (default ORDERS_PAYMENT_TIMEOUT_MINUTES)")

    def handle(self, *args: object, minutes: int | None, **options: object) -> None:
        released = orders_release_expired(older_than=timedelta(minutes=minutes) if minutes is not None else None)
        self.stdout.write(f"Released {len(released)} unpaid order(s).")
