from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("products/<int:product_id>/", views.product_detail, name="product_detail"),
    # Browsers and the admin ask for /favicon.ico whatever the page links.
    path("favicon.ico", views.favicon, name="favicon"),
]
