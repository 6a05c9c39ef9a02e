"""Security: the secret key, the hosts served, authentication, HTTPS behind the proxy, cookies,
rate limits, the admin login lockout and who may read /metrics.

`manage.py check --deploy` is clean with the production variables of docs/deploy.md
(tests/test_deploy_checks.py runs it). The Content-Security-Policy is in content_security.py.
"""

from datetime import timedelta
from ipaddress import ip_network

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import DEBUG, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (a long random string) in production, "
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is not set: list the host names this site answers to "
        "(comma separated), or set DJANGO_DEBUG=1 for local development."
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# A CSRF failure under /api/ answers the API's JSON error envelope, elsewhere Django's page.
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

# --- Authentication. django-axes first (it refuses a locked-out login before any password
# is checked; it needs the request, which the login form passes), then the usual backend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Metrics: /metrics (config/metrics.py) answers only these networks (the monitoring ones).
METRICS_ALLOWED_NETWORKS = env.list("DJANGO_METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])

# --- HTTPS, proxy, headers.

# DJANGO_BEHIND_PROXY=1: our reverse proxy (deploy/nginx/nginx.conf) sets X-Forwarded-Proto
# and X-Forwarded-For, overwriting whatever the client sent. Only then are they trusted:
# X-Forwarded-Proto for request.is_secure() (secure redirects, CSRF's origin check), the
# last X-Forwarded-For address as the client for rate limits and login lockouts. Without a
# proxy a client could claim https or any address with them, so they are ignored.
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
# DJANGO_TRUSTED_PROXIES: the addresses (or networks) the proxy connects from. The forwarded
# headers are believed only on connections from these (core/forwarded.py); from anyone else,
# a client that reached gunicorn directly, they are dropped. Default: this machine.
TRUSTED_PROXIES = env.list("DJANGO_TRUSTED_PROXIES", default=["127.0.0.1/32", "::1/128"])
try:
    for _entry in TRUSTED_PROXIES:
        ip_network(_entry.strip(), strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"DJANGO_TRUSTED_PROXIES: {exc}") from None
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=BEHIND_PROXY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Health checks come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True

# --- Rate limits (core/ratelimit.py): "<requests>/<period>" per client, period s, m, h or
# d (a fixed window). Clients over the limit get 429 with Retry-After. The photo-search page
# and API share one budget (both run the model); GETs of the form page are free.
RATELIMIT_ENABLED = env.bool("DJANGO_RATELIMIT_ENABLED", default=True)
RATELIMITS = {
    "photo_search": env("DJANGO_RATELIMIT_PHOTO_SEARCH", default="20/m"),
    "similar_api": env("DJANGO_RATELIMIT_SIMILAR_API", default="120/m"),
    "login": env("DJANGO_RATELIMIT_LOGIN", default="10/m"),
    "accounts": env("DJANGO_RATELIMIT_ACCOUNTS", default="5/m"),
    # A guest's order lookup (number + e-mail): guessing e-mails for a number stays slow.
    "order_lookup": env("DJANGO_RATELIMIT_ORDER_LOOKUP", default="5/m"),
    # "Notify me when it's back" (each may send an e-mail later).
    "stock_alerts": env("DJANGO_RATELIMIT_STOCK_ALERTS", default="10/m"),
}

# --- Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# user name from one client, that pair is refused for the cool-off (429, templates/429.html),
# even with the right password. Records are in the database (admin: Axes › Access attempts;
# `manage.py axes_reset` lifts every lockout).
AXES_ENABLED = env.bool("DJANGO_AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("DJANGO_AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DJANGO_AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.ratelimit.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "core.ratelimit.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
