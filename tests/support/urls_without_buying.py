"""The site's URLs without the buying apps (tests/test_shop_buying.py)."""

from django.urls import include, path

urlpatterns = [
    path("", include("visualsearch.urls")),
    path("", include("shop.urls")),
]
