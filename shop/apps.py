from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Catalogue"

    def ready(self) -> None:
        from shop import receivers  # noqa: F401  (turns model signals into the shop's announcements)
