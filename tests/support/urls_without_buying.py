"""The site's URLs without the buying apps (tests/test_shop_buying.py)."""

from django.urls import include, path

urlpatterns = [
    # Not buying apps: the wishlist and back-in-stock alerts stay.
    path("wishlist/", include("wishlist.urls")),
    path("notify/", include("stockalerts.urls")),
    path("", include("visualsearch.urls")),
    path("", include("shop.urls")),
]
