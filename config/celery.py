"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lookalike")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Periodic tasks (celery beat) are CELERY_BEAT_SCHEDULE in config/settings/celery.py: every
# ORDERS_RELEASE_EVERY_SECONDS, orders.tasks.orders_release_expired gives the stock of orders
# unpaid after ORDERS_PAYMENT_TIMEOUT_MINUTES back. Run it with `celery -A config beat`.
