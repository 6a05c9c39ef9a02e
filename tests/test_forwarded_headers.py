"""Direct gunicorn and forwarded headers (issue 19, section 6): gunicorn binds the internal
address by default, and X-Forwarded-For / X-Forwarded-Proto are believed only on connections
from the proxy's addresses (DJANGO_TRUSTED_PROXIES), even with DJANGO_BEHIND_PROXY=1. Before,
a client that reached gunicorn directly read /metrics and never hit a rate limit."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
API = "/api/search/photo"


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.RATELIMIT_ENABLED = True
    settings.RATELIMITS = {**settings.RATELIMITS, "photo_search": "3/m"}
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    return settings


def test_gunicorn_binds_the_internal_address_by_default(monkeypatch) -> None:
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "127.0.0.1:8000"
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["bind"] == "0.0.0.0:8000"


@pytest.mark.django_db
def test_a_direct_client_claiming_a_monitoring_address_does_not_get_metrics(behind_proxy) -> None:
    direct = Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert direct.get("/metrics").status_code == 404
    # Through the proxy (a connection from 127.0.0.1) the address it forwarded counts.
    assert Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").get("/metrics").status_code == 404


@pytest.mark.django_db
def test_a_direct_client_rotating_x_forwarded_for_is_rate_limited(behind_proxy) -> None:
    statuses = [
        Client(REMOTE_ADDR="203.0.113.8", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(API).status_code for n in range(5)
    ]
    assert statuses == [400, 400, 400, 429, 429]
    # Behind the proxy each forwarded client has its own budget.
    assert Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.50").post(API).status_code == 400


@pytest.mark.django_db
def test_x_forwarded_proto_is_believed_only_from_the_proxy(behind_proxy) -> None:
    behind_proxy.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_proxy.SECURE_SSL_REDIRECT = True
    direct = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https")
    response = direct.get("/catalogue/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_PROTO="https").get("/catalogue/").status_code == 200


def test_a_bad_trusted_proxies_entry_is_refused_at_start() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1"}
    env["DJANGO_TRUSTED_PROXIES"] = "10.0.0.0/8,not-an-address"
    probe = "import django; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DJANGO_TRUSTED_PROXIES" in result.stderr and ImproperlyConfigured.__name__ in result.stderr
