from django.apps import AppConfig


class BagConfig(AppConfig):
    """The shopping bag: a session bag for anonymous shoppers, a stored one for customers,
    merged on login. Depends on shop and core; renders into the shop's template hooks."""

    name = "bag"
    verbose_name = "Shopping bags"

    def ready(self) -> None:
        from bag import receivers  # noqa: F401  (merge the session bag on login)
