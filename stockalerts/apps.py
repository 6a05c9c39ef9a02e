from django.apps import AppConfig


class StockAlertsConfig(AppConfig):
    """ "Notify me when it's back": a shopper's e-mail for a sold-out product or size, and one
    e-mail when stock returns. Depends on shop and core; listens to the shop's
    ``products_changed`` and renders into its template hooks; the shop imports nothing of it."""

    name = "stockalerts"
    verbose_name = "Back-in-stock alerts"

    def ready(self) -> None:
        from stockalerts import receivers  # noqa: F401  (stock changes → alerts)
