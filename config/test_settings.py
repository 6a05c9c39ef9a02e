"""Settings for the test suite: the same as production, with test-only defaults.

DATABASE_URL and REDIS_URL still come from the environment (CI points them at
PostgreSQL and Redis); without them the tests use SQLite and eager tasks.
"""

import os
import tempfile

from tests.support.workers import redis_url_for_worker

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")
# `pytest -n 2` (pytest-xdist, the fast tier): each worker has a Redis database of its own, as it
# has a test database of its own, so one worker's caches, buffers and queues never meet the other's.
os.environ["REDIS_URL"] = redis_url_for_worker(
    os.environ.get("REDIS_URL", ""), os.environ.get("PYTEST_XDIST_WORKER", "")
)

from config.settings import *  # noqa: F403

# CI runs the lab's tests: its commands are always installed here.
if "lab" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS.append("lab")  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="lookalike-test-media-")
PRIVATE_MEDIA_ROOT = tempfile.mkdtemp(prefix="lookalike-test-private-")
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# The suite's own tasks run in-process unless a test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
# Training a head embeds no photos (photo search's learned space) unless a test asks for
# them: visualsearch/tests/services/test_photo_space.py does, with real images and the model.
VISUALSEARCH_HEAD_PHOTO_PAIRS = 0
STATIC_ROOT = tempfile.mkdtemp(prefix="lookalike-test-static-")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Rate limits would refuse the suite's many searches from one test client;
# tests/test_rate_limits.py turns them on where it tests them.
RATELIMIT_ENABLED = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PAYMENT_VARIANTS = {"dummy": ("checkout.providers.DummyProvider", {})}
CHECKOUT_PAYMENT_VARIANT = "dummy"
# A second database on SQLite (the embedded default's backend), for the tests that run the same
# behaviour on both: they route the models to it (tests.support.databases.on_sqlite). Only the
# tests that ask for it create it (in a file, like scripts/dev's).
_SQLITE_DIR = tempfile.mkdtemp(prefix="lookalike-test-sqlite-")
DATABASES["sqlite"] = {  # noqa: F405
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": f"{_SQLITE_DIR}/db.sqlite3",
    "TEST": {"NAME": f"{_SQLITE_DIR}/test.sqlite3"},
}
