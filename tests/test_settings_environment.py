"""The settings package reads each app's settings from environment variables of the same name
(<PREFIX>_<NAME>), converted to the typed field's type; the app reads them through its object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.servers import ROOT

_SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s\n"
    "from bag.conf import bag_settings; from checkout.conf import checkout_settings\n"
    "from orders.conf import orders_settings; from shop.conf import shop_settings\n"
    "from visualsearch.conf import vs_settings as vs\n"
    "print(json.dumps({'dict': s.VISUALSEARCH, 'batch': vs.BATCH_SIZE, 'timeout': vs.QUERY_TIMEOUT,\n"
    "  'head': vs.HEAD_ENABLED, 'dims': vs.HEAD_PHOTO_DIMS, 'labels': vs.HEAD_AUX_LABELS,\n"
    "  'model_dir': str(vs.MODEL_DIR), 'in_process': vs.QUERY_IN_PROCESS,\n"
    "  'rate': str(checkout_settings.SHIPPING_FLAT_RATE), 'currency': shop_settings.CURRENCY,\n"
    "  'minutes': orders_settings.PAYMENT_TIMEOUT_MINUTES, 'quantity': bag_settings.MAX_QUANTITY_PER_LINE}))\n"
)


def _show(**variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VISUALSEARCH_", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="1", **variables)
    done = subprocess.run(
        [sys.executable, "-c", _SHOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_app_settings_come_from_the_environment_in_their_types() -> None:
    shown = _show(
        VISUALSEARCH_BATCH_SIZE="8",
        VISUALSEARCH_QUERY_TIMEOUT="4.5",
        VISUALSEARCH_HEAD_ENABLED="0",
        VISUALSEARCH_HEAD_PHOTO_DIMS="128, 256",
        VISUALSEARCH_HEAD_AUX_LABELS="gender,season",
        VISUALSEARCH_MODEL_DIR="/srv/models",
        VISUALSEARCH_QUERY_IN_PROCESS="0",
        CHECKOUT_SHIPPING_FLAT_RATE="5.5",
        SHOP_CURRENCY="EUR",
        ORDERS_PAYMENT_TIMEOUT_MINUTES="7",
        BAG_MAX_QUANTITY_PER_LINE="3",
        REDIS_URL="",
    )
    assert shown["batch"] == 8 and shown["timeout"] == 4.5 and shown["head"] is False
    assert shown["dims"] == [128, 256] and shown["labels"] == ["gender", "season"]
    assert shown["model_dir"] == "/srv/models"
    assert shown["in_process"] is False  # the environment's word beats the no-broker default
    assert Decimal(shown["rate"]) == Decimal("5.5")
    assert (shown["currency"], shown["minutes"], shown["quantity"]) == ("EUR", 7, 3)


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_without_a_broker_photo_search_embeds_in_process_and_defaults_hold() -> None:
    shown = _show(REDIS_URL="")
    assert shown["dict"] == {"QUERY_IN_PROCESS": True}
    assert shown["in_process"] is True
    assert shown["batch"] == 32 and shown["currency"] == "INR" and Decimal(shown["rate"]) == Decimal("99.00")
    assert Path(shown["model_dir"]) == ROOT / "var" / "models"


def test_each_test_worker_gets_its_own_redis_database() -> None:
    from tests.support.workers import redis_url_for_worker

    assert redis_url_for_worker("redis://127.0.0.1:6379/0", "") == "redis://127.0.0.1:6379/0"
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", "gw0") == "redis://127.0.0.1:6379/1"
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", "gw1") == "redis://127.0.0.1:6379/2"
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/0"
    assert redis_url_for_worker("", "gw0") == ""


_SQLITE_WRITERS = (
    "import django, json, threading, time; django.setup()\n"
    "from django.db import connection, transaction\n"
    "with connection.cursor() as c:\n"
    "    c.execute('PRAGMA journal_mode'); mode = c.fetchone()[0]\n"
    "    c.execute('CREATE TABLE t (x integer)')\n"
    "errors = []\n"
    "def writer(n):\n"
    "    try:\n"
    "        with transaction.atomic(), connection.cursor() as c:\n"
    "            c.execute('SELECT count(*) FROM t'); time.sleep(0.5); c.execute('INSERT INTO t VALUES (%s)', [n])\n"
    "    except Exception as exc:\n"
    "        errors.append(str(exc))\n"
    "    finally:\n"
    "        connection.close()\n"
    "threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]\n"
    "[t.start() for t in threads]; [t.join() for t in threads]\n"
    "with connection.cursor() as c:\n"
    "    c.execute('SELECT count(*) FROM t'); rows = c.fetchone()[0]\n"
    "print(json.dumps({'mode': mode, 'errors': errors, 'rows': rows}))\n"
)


@pytest.mark.slow  # over 2 s (a subprocess)
def test_the_embedded_sqlite_default_lets_two_writers_wait_for_each_other(tmp_path: Path) -> None:
    """scripts/dev's import writes products while in-process tasks write vectors: two transactions
    that read then write must queue (WAL, BEGIN IMMEDIATE, a 30 s wait), not fail with "database
    is locked" as SQLite's deferred transactions do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VISUALSEARCH_", "CELERY_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="1", REDIS_URL="")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-c", _SQLITE_WRITERS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown == {"mode": "wal", "errors": [], "rows": 2}
