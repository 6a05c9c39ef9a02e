from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, include, path, re_path

import accounts.urls
from config.errors import api_fallback_urlpatterns
from config.health import healthz
from config.media import serve_media
from config.metrics import metrics
from core.ratelimit import ratelimit

handler400 = "config.errors.bad_request"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"


def _limited(patterns: list, groups: dict[str, str]) -> list:
    """These URL patterns, the named ones' views rate-limited (their POSTs) per client."""
    return [
        URLPattern(p.pattern, ratelimit(groups[p.name])(p.callback), p.default_args, p.name)
        if isinstance(p, URLPattern) and p.name in groups
        else p
        for p in patterns
    ]


# The shop's account forms: signing in (with the admin's), and the two that create accounts or
# send email (RATELIMITS["accounts"]), so that nobody uses the site to mail strangers.
ACCOUNT_LIMITS = {"login": "login", "signup": "accounts", "password_reset": "accounts"}

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # The sign-in forms (the admin's, the shop's) are limited per client (RATELIMITS["login"]);
    # django-axes also locks one user name out after AXES_FAILURE_LIMIT wrong passwords.
    path("admin/login/", ratelimit("login", methods=("POST",))(admin.site.login)),
    # Staff only (the admin site's login), under the admin's URL.
    path("admin/insights/", include("insights.urls")),
    path("admin/", admin.site.urls),
    path("bag/", include("bag.urls")),
    path("checkout/", include("checkout.urls")),
    path("account/", include((_limited(accounts.urls.urlpatterns, ACCOUNT_LIMITS), accounts.urls.app_name))),
    path("payments/", include("payments.urls")),
    path("wishlist/", include("wishlist.urls")),
    path("notify/", include("stockalerts.urls")),
    path("", include("orders.urls")),
    # /api/v1/ and the deprecated unversioned API paths (before visualsearch's own patterns).
    path("", include("api.urls")),
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

# Last: any other /api/ path answers the API's JSON 404, with DEBUG on too (Django's debug
# 404 page would be HTML).
urlpatterns += api_fallback_urlpatterns
