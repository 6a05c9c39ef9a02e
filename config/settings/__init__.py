"""Settings, read from environment variables, by topic.

With nothing set, the site runs on a fresh machine: SQLite file, Celery tasks in-process
(eager), media on the local filesystem. Production sets DATABASE_URL, REDIS_URL,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS (and optionally S3 media), see docs/deploy.md.

Each topic is a module that imports what it needs from the others by name, and each setting
is set in one module only, so the order below does not matter. This package is all of them
(``DJANGO_SETTINGS_MODULE=config.settings``); config/test_settings.py is them with the
tests' defaults.
"""

from config.settings.app_settings import *  # noqa: F403
from config.settings.base import *  # noqa: F403
from config.settings.caches import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.content_security import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.email import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
from config.settings.payments import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.storage import *  # noqa: F403
