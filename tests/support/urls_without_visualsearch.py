"""The site's URLs without visual search: the shop must work on its own."""

from django.urls import include, path

urlpatterns = [path("", include("shop.urls"))]
