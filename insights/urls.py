"""/admin/insights/…: staff only, through the admin site (anyone else gets its login page)."""

from django.contrib import admin
from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard), name="dashboard"),
    path("export/<slug:table>.csv", admin.site.admin_view(views.export_csv), name="export"),
    path("duplicates/", admin.site.admin_view(views.duplicates), name="duplicates"),
]
