from django.urls import path

from visualsearch import views

app_name = "visualsearch"

urlpatterns = [
    path("products/<int:product_id>/similar/", views.similar_page, name="similar"),
    path("search/photo/", views.photo_search_page, name="photo_search"),
    path("api/products/<int:product_id>/similar", views.api_similar, name="api_similar"),
    path("api/search/photo", views.api_photo_search, name="api_photo_search"),
]
