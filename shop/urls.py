from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<int:product_id>/", views.product_detail, name="product_detail"),
]
