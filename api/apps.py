from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The versioned JSON API (/api/v1/, django-ninja): a thin layer over the shop, visual
    search and the bag, with keys for partners. Nothing depends on it."""

    name = "api"
    verbose_name = "API"
