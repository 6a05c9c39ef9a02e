from django.urls import path

from wishlist import views

app_name = "wishlist"

urlpatterns = [
    path("", views.wishlist_page, name="page"),
    path("<int:product_id>/", views.wishlist_toggle, name="toggle"),
]
