from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from config.health import healthz
from config.media import serve_media
from core.ratelimit import ratelimit

handler400 = "config.errors.bad_request"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The admin's sign-in form, limited per client (RATELIMITS["login"]); django-axes also
    # locks one user name out after AXES_FAILURE_LIMIT wrong passwords.
    path("admin/login/", ratelimit("login", methods=("POST",))(admin.site.login)),
    path("admin/", admin.site.urls),
    path("bag/", include("bag.urls")),
    path("checkout/", include("checkout.urls")),
    path("account/", include("accounts.urls")),
    path("payments/", include("payments.urls")),
    path("", include("visualsearch.urls")),
    path("", include("shop.urls")),
]

if settings.SERVE_MEDIA:
    # Local filesystem media served by Django (development, single-host setups);
    # production puts media on S3 or behind the web server instead.
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns += [
        re_path(rf"^{media_prefix}(?P<path>.*)$", serve_media),
    ]
