from django.apps import AppConfig


class LabConfig(AppConfig):
    """Benchmarks, evaluations and experiments over the product (see the package docstring).
    Has no models; its commands are installed only with the app."""

    name = "lab"
    verbose_name = "Lab (measurements)"
