from django.apps import AppConfig


class VisualSearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the product signals)
