from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "discovery"
    verbose_name = "Discovery"

    def ready(self) -> None:
        from discovery import receivers  # noqa: F401  (listens to shop.signals.product_viewed)
