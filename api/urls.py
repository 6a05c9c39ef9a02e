"""/api/v1/ (the versioned API, its schema and docs) and the deprecated unversioned paths."""

from django.urls import path

from api.api import api_v1
from api.legacy import legacy_urlpatterns

urlpatterns = [
    path("api/v1/", api_v1.urls),
    *legacy_urlpatterns,
]
