"""The site's URLs without visual search: the shop (and the apps built on it) must work
without it."""

from django.urls import URLResolver

from config.urls import urlpatterns as site_urlpatterns


def _is_visualsearch(pattern: object) -> bool:
    return isinstance(pattern, URLResolver) and getattr(pattern.urlconf_module, "__name__", "") == "visualsearch.urls"


urlpatterns = [pattern for pattern in site_urlpatterns if not _is_visualsearch(pattern)]
