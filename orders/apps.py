from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Orders and their lines: what was bought, at what price, and where it stands. Depends on
    shop (stock lives on shop.ProductVariant) and core; the shop imports nothing from here."""

    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from orders import receivers  # noqa: F401  (a paid order's confirmation email)
