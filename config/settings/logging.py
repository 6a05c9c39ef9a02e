"""Logging: one plain console handler, at DJANGO_LOG_LEVEL (INFO)."""

from config.settings.base import env

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
