"""Static and media files (media goes through Django's storage API only), upload limits."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import BASE_DIR, DEBUG, env

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = env("DJANGO_MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
# Private files (never served, no URL): outside MEDIA_ROOT, shared by the web process and the
# workers (the import uploads, core/storage.py).
PRIVATE_MEDIA_ROOT = env.path("DJANGO_PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "private")
if Path(str(PRIVATE_MEDIA_ROOT)).resolve().is_relative_to(Path(str(MEDIA_ROOT)).resolve()):
    raise ImproperlyConfigured("DJANGO_PRIVATE_MEDIA_ROOT must be outside DJANGO_MEDIA_ROOT (media is public).")

# Django itself serves local media when asked (development and single-host setups).
SERVE_MEDIA = env.bool("DJANGO_SERVE_MEDIA", default=DEBUG)

MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")  # "filesystem" or "s3"
media_backend: dict[str, Any]
private_backend: dict[str, Any]
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
    private_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **media_backend["OPTIONS"],
            "bucket_name": env("AWS_PRIVATE_STORAGE_BUCKET_NAME", default=env("AWS_STORAGE_BUCKET_NAME")),
            "location": "private",
            "custom_domain": None,
            "querystring_auth": True,
            "default_acl": "private",
        },
    }
elif MEDIA_STORAGE == "filesystem":
    media_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    private_backend = {"BACKEND": "core.storage.PrivateFileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}.")
# Without collectstatic (development), WhiteNoise serves straight from the app folders.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": media_backend,
    # Files that are never served (import uploads while their job waits): core/storage.py.
    "private": private_backend,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Admin uploads of large product photos; photo search has its own limit (VISUALSEARCH_MAX_UPLOAD_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# Images above this many pixels are refused from their header (decompression bombs).
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=50_000_000)
