"""Settings, read from environment variables.

With nothing set, the site runs on a fresh machine: SQLite file, Celery tasks in-process
(eager), media on the local filesystem. Production sets DATABASE_URL, REDIS_URL,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS (and optionally S3 media), see README.md.
"""

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

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
    "payments",
]
# The lab (lab/: benchmarks, evaluations, experiments; never imported by the product) only when
# asked for (LOOKALIKE_LAB=1) or under DEBUG. One edit for the settings split to carry over.
if env.bool("LOOKALIKE_LAB", default=False) or DEBUG:
    INSTALLED_APPS.append("lab")

MIDDLEWARE = [
    # Request counts and latencies for Prometheus (first and last, around everything else).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
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
            ],
        },
    },
]

# --- Database: DATABASE_URL (postgres://user:pass@host:5432/name) or a local SQLite file.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
# A connection dropped by a database restart is replaced on the next request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Per-process cache (facet counts): pages keep working when Redis is down.
# "ratelimit" holds the rate-limit counters (core/ratelimit.py): shared by every process
# through Redis in production, per process without REDIS_URL. Short socket timeouts: a
# frozen Redis costs a request 0.5 s, and the limiter then lets the request through.
CACHES: dict[str, dict[str, object]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _shared_cache(redis_url: str, name: str) -> dict[str, object]:
    """A cache every process shares through Redis (short socket timeouts: a frozen Redis costs
    a request 0.5 s, and its users carry on without it), or this process's memory."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": name}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
        "KEY_PREFIX": f"lookalike-{name}",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


CACHES["ratelimit"] = _shared_cache(
    env("DJANGO_RATELIMIT_REDIS_URL", default=env("REDIS_URL", default="")), "ratelimit"
)
# "photo_queries" keeps photo-search queries for refining (the query's embedding and a
# small preview under a random token, VISUALSEARCH_QUERY_TOKEN_SECONDS).
CACHES["photo_queries"] = _shared_cache(
    env("DJANGO_PHOTO_QUERY_REDIS_URL", default=env("REDIS_URL", default="")), "photo_queries"
)

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files. Media goes through Django's storage API only.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = env("DJANGO_MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")

# Django itself serves local media when asked (development and single-host setups).
SERVE_MEDIA = env.bool("DJANGO_SERVE_MEDIA", default=DEBUG)

MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")  # "filesystem" or "s3"
if MEDIA_STORAGE == "s3":
    media_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "custom_domain": env("AWS_S3_CUSTOM_DOMAIN", default=None),
            "querystring_auth": env.bool("AWS_QUERYSTRING_AUTH", default=False),
            "file_overwrite": False,
            "default_acl": None,
        },
    }
elif MEDIA_STORAGE == "filesystem":
    media_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}.")
# Without collectstatic (development), WhiteNoise serves straight from the app folders.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": media_backend,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Admin uploads of large product photos; photo search has its own limit below.
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# Images above this many pixels are refused from their header (decompression bombs).
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=50_000_000)

# --- Celery. No broker configured: tasks run in-process (eager), the embedded default.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
if CELERY_TASK_ALWAYS_EAGER:
    # With a host name: kombu warns "No hostname was supplied" about a bare "memory://".
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ROUTES = {
    "visualsearch.tasks.embed_query_image": {"queue": "query"},
    # Order emails and stock releases never wait behind a reindex batch on the "celery" queue.
    "orders.tasks.*": {"queue": "shop"},
    "bag.tasks.*": {"queue": "shop"},
    # Staff's bulk imports from the admin (shop.tasks.import_job_run_task).
    "shop.tasks.*": {"queue": "shop"},
}
# Fail fast when the broker is down instead of hanging the request that enqueues.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": 3600,
}
CELERY_REDIS_BACKEND_HEALTH_CHECK_INTERVAL = 10
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
# A frozen (not down) Redis: photo search gives up after ~9 s instead of ~30 s (3 reads × 3 s).
CELERY_REDIS_SOCKET_TIMEOUT = 3
# The Redis result backend retries a lost connection 20 times, 1 s apart, by default: with
# Redis down every photo search (which subscribes to its result before sending the task)
# would hang ~20 s whatever VISUALSEARCH_QUERY_TIMEOUT says. One quick retry, then fail.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Visual search, shop, bag, orders, checkout: each <APP>_<NAME> environment variable
# overrides the default in <app>/conf.py (DEFAULTS), converted to the default's type.
from bag.conf import DEFAULTS as _BAG_DEFAULTS  # noqa: E402
from checkout.conf import DEFAULTS as _CHECKOUT_DEFAULTS  # noqa: E402
from core.conf import environment_overrides  # noqa: E402
from orders.conf import DEFAULTS as _ORDERS_DEFAULTS  # noqa: E402
from shop.conf import DEFAULTS as _SHOP_DEFAULTS  # noqa: E402
from visualsearch.conf import DEFAULTS as _VISUALSEARCH_DEFAULTS  # noqa: E402

for _prefix, _defaults in (
    ("VISUALSEARCH", _VISUALSEARCH_DEFAULTS),
    ("SHOP", _SHOP_DEFAULTS),
    ("BAG", _BAG_DEFAULTS),
    ("ORDERS", _ORDERS_DEFAULTS),
    ("CHECKOUT", _CHECKOUT_DEFAULTS),
):
    globals().update(environment_overrides(env, _prefix, _defaults))
if CELERY_TASK_ALWAYS_EAGER and "VISUALSEARCH_QUERY_IN_PROCESS" not in env.ENVIRON:
    VISUALSEARCH_QUERY_IN_PROCESS = True  # no broker: photo-search queries embed in-process

# --- Accounts
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "shop:catalogue"
LOGOUT_REDIRECT_URL = "shop:catalogue"

# --- Email: console in development; SMTP from the environment (EMAIL_URL, e.g.
# smtp+tls://user:password@smtp.example.com:587) or any backend by EMAIL_BACKEND
# (e.g. anymail.backends.postmark.EmailBackend with its ANYMAIL settings).
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Lookalike <orders@lookalike.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if "EMAIL_URL" in env.ENVIRON:
    vars().update(env.email_url("EMAIL_URL"))
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=vars().get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# --- Payments (django-payments). The dummy provider (a form to confirm or reject the payment)
# in development and tests; Stripe when STRIPE_SECRET_KEY is set and CHECKOUT_PAYMENT_VARIANT=stripe.
PAYMENT_MODEL = "checkout.Payment"
PAYMENT_HOST = env("PAYMENT_HOST", default="127.0.0.1:8000")
PAYMENT_USES_SSL = env.bool("PAYMENT_USES_SSL", default=not DEBUG)
PAYMENT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"dummy": ("payments.dummy.DummyProvider", {})}
if env("STRIPE_SECRET_KEY", default=""):
    PAYMENT_VARIANTS["stripe"] = (
        "payments.stripe.StripeProviderV3",
        {
            "api_key": env("STRIPE_SECRET_KEY"),
            "endpoint_secret": env("STRIPE_WEBHOOK_SECRET", default=None),
            "use_token": True,
            "secure_endpoint": env.bool("STRIPE_SECURE_ENDPOINT", default=True),
        },
    )

# --- Periodic tasks (celery beat): unpaid orders give their stock back after the timeout.
CELERY_BEAT_SCHEDULE = {
    "orders-release-expired": {
        "task": "orders.tasks.orders_release_expired",
        "schedule": env.float("ORDERS_RELEASE_EVERY_SECONDS", default=300.0),
    },
    "bags-prune-abandoned": {"task": "bag.tasks.bags_prune_abandoned", "schedule": 24 * 3600.0},
    # Rebuilds the FAISS index artifact when the change log has grown past it (or it is old);
    # does nothing where the site serves the exact index.
    "index-artifact-check": {
        "task": "visualsearch.tasks.build_index_artifact",
        "schedule": env.float("VISUALSEARCH_ARTIFACT_CHECK_EVERY_SECONDS", default=600.0),
        "kwargs": {"force": False},
    },
}

# --- Metrics: /metrics (config/metrics.py) answers only these networks (the monitoring ones).
METRICS_ALLOWED_NETWORKS = env.list("DJANGO_METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print each of its messages a second
        # time ("Not Found: /x" above "WARNING django.request: Not Found: /x"): ours only.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        # "AXES: BEGIN version …" at every start of every command; lockouts still log.
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Security: HTTPS, proxy, headers. `manage.py check --deploy` is clean with the
# production variables of README.md (tests/test_deploy_checks.py runs it).

# DJANGO_BEHIND_PROXY=1: our reverse proxy (deploy/nginx/nginx.conf) sets X-Forwarded-Proto
# and X-Forwarded-For, overwriting whatever the client sent. Only then are they trusted:
# X-Forwarded-Proto for request.is_secure() (secure redirects, CSRF's origin check), the
# last X-Forwarded-For address as the client for rate limits and login lockouts. Without a
# proxy a client could claim https or any address with them, so they are ignored.
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
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

# Content-Security-Policy (django-csp). Scripts: none of our own but the admin's static
# files; the templates' few inline handlers (INLINE_HANDLERS) are allowed by their hash
# ('unsafe-hashes' allows exactly that attribute text, nothing else inline), and a template
# that needs an inline <script> uses nonce="{{ request.csp_nonce }}". Styles: inline
# style attributes and <style> blocks (the reindex dashboard's progress bar, the 500 page)
# are allowed: they cannot run code. Images: ours, data: URLs (the photo-search preview)
# and the media host when media is elsewhere (S3, a CDN).
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES, UNSAFE_INLINE  # noqa: E402


def _script_hash(source: str) -> str:
    import base64
    import hashlib

    return f"'sha256-{base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()}'"


# The templates' inline event handlers, each allowed by its hash (tests/test_deploy_checks.py
# fails on any handler in a template that is not listed here).
INLINE_HANDLERS = [
    "this.form.submit()",  # facet checkboxes and sort: submit on change
    "this.querySelector('button').disabled=true",  # checkout: "Place order" once
]


def _origin(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    if not url:
        return None
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


_media_origins = [
    origin
    for origin in (
        _origin(MEDIA_URL) if "://" in MEDIA_URL else None,
        _origin(env("AWS_S3_CUSTOM_DOMAIN", default=None)),
        _origin(env("AWS_S3_ENDPOINT_URL", default=None)) if MEDIA_STORAGE == "s3" else None,
    )
    if origin
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, UNSAFE_HASHES, *map(_script_hash, INLINE_HANDLERS)],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *_media_origins, *env.list("DJANGO_CSP_IMG_SRC", default=[])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # Forms post here; with Stripe, the payment step redirects the "Place order" post
        # on to Stripe Checkout (form-action covers a form's redirects too).
        "form-action": [
            SELF,
            *(["https://checkout.stripe.com"] if "stripe" in PAYMENT_VARIANTS else []),
            *env.list("DJANGO_CSP_FORM_ACTION", default=[]),
        ],
        "frame-ancestors": [NONE],
    },
}

# --- Rate limits (core/ratelimit.py): "<requests>/<period>" per client, period s, m, h or
# d (a fixed window). Clients over the limit get 429 with Retry-After. The photo-search page
# and API share one budget (both run the model); GETs of the form page are free.
RATELIMIT_ENABLED = env.bool("DJANGO_RATELIMIT_ENABLED", default=True)
RATELIMITS = {
    "photo_search": env("DJANGO_RATELIMIT_PHOTO_SEARCH", default="20/m"),
    "similar_api": env("DJANGO_RATELIMIT_SIMILAR_API", default="120/m"),
    "login": env("DJANGO_RATELIMIT_LOGIN", default="10/m"),
    "accounts": env("DJANGO_RATELIMIT_ACCOUNTS", default="5/m"),
}

# --- Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# user name from one client, that pair is refused for the cool-off (429, templates/429.html),
# even with the right password. Records are in the database (admin: Axes › Access attempts;
# `manage.py axes_reset` lifts every lockout).
from datetime import timedelta  # noqa: E402

AXES_ENABLED = env.bool("DJANGO_AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("DJANGO_AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DJANGO_AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.ratelimit.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "core.ratelimit.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
