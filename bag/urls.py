from django.urls import path

from bag import views

app_name = "bag"

urlpatterns = [
    path("", views.bag_detail, name="detail"),
    path("add/", views.bag_add, name="add"),
    path("lines/<int:line_id>/", views.bag_line_update, name="line_update"),
    path("lines/<int:line_id>/remove/", views.bag_line_remove, name="line_remove"),
]
