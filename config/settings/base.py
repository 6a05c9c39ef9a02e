"""The project itself: where it lives, the environment it reads, DEBUG, the installed apps,
middleware, templates, language and the accounts' URLs."""

import importlib.util
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_prometheus",
    "core",
    "shop",
    "visualsearch",
    # The buying side: each depends on shop (and core), the shop on none of them.
    "orders",
    "bag",
    "checkout",
    "accounts",
    # Keep and come back: a wishlist and back-in-stock e-mails (each on shop and core alone).
    "wishlist",
    "stockalerts",
    # Recently viewed and "Inspired by what you viewed": on shop and visualsearch; none imports it.
    "discovery",
    # What visual search sells (dashboard, duplicates): listens to the apps above, none imports it.
    "insights",
    "payments",
    # The versioned JSON API (/api/v1/): depends on shop, visualsearch and bag; nothing on it.
    "ninja",
    "api",
]
# The lab (lab/: benchmarks, evaluations, experiments; never imported by the product) only when
# asked for (LOOKALIKE_LAB=1) or under DEBUG, and only where its package is (not in an image
# built without it).
if (env.bool("LOOKALIKE_LAB", default=False) or DEBUG) and importlib.util.find_spec("lab") is not None:
    INSTALLED_APPS.append("lab")

MIDDLEWARE = [
    # Request counts and latencies for Prometheus (first and last, around everything else).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Drops X-Forwarded-* unless the request came from our proxy (TRUSTED_PROXIES).
    "core.forwarded.ForwardedHeadersMiddleware",
    # Reads what a view left of the body (an early 429/413) before the answer goes back.
    "core.middleware.RequestBodyDrainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    # Refuses what Django cannot read before anything parses the request: a chunked body
    # (no Content-Length: 411) and NUL characters in an admin query string (400).
    "core.middleware.UnreadableRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Insights: the browser session's last visual search, in a cookie set after one.
    "insights.middleware.visual_search_touch",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ApplicationErrorMiddleware",
    # django-axes: last, it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "checkout.context_processors.demo_shop",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Accounts
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "shop:catalogue"
LOGOUT_REDIRECT_URL = "shop:catalogue"
