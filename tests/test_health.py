"""/healthz on django-health-check's checks: strangers get today's answer and no detail; staff
get every check (database, caches, storage, broker and workers when used, the search index's
freshness). The database going away is tests/test_faults.py's (a real PostgreSQL stopped)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from shop.models import Product
from tests.support.catalogue import stored_catalogue
from visualsearch.models import EmbeddingStatus, ProductEmbedding

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True))
    return client


def test_strangers_get_todays_answer_and_nothing_more(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    customer = Client()
    customer.force_login(User.objects.create_user("shopper", password="pw"))
    assert customer.get("/healthz").json() == {"status": "ok"}


def test_staff_see_every_check(staff_client: Client) -> None:
    body = staff_client.get("/healthz").json()
    assert body["status"] == "ok", body
    # The test settings run tasks in-process: no broker and no workers to check.
    assert set(body["checks"]) == {"database", "cache", "rate-limit cache", "media storage", "search index"}
    assert body["checks"]["database"] == {**body["checks"]["database"], "ok": True, "critical": True, "message": "OK"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.slow  # over 2 s (a subprocess, a broker, or real images)
def test_a_broker_adds_the_broker_and_worker_checks(staff_client: Client, settings) -> None:
    """With a broker nobody listens on, staff see both fail; strangers still get "ok" (the web
    process serves pages without a worker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    body = staff_client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["celery broker"]["ok"] is False
    assert body["checks"]["celery workers"]["ok"] is False
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_stale_and_failed_embeddings_show_to_staff(staff_client: Client) -> None:
    products = stored_catalogue(3)
    ProductEmbedding.objects.filter(product=products[0]).update(model_version="resnet50-old")
    body = staff_client.get("/healthz").json()
    index = body["checks"]["search index"]
    assert (body["status"], index["ok"], index["critical"]) == ("degraded", False, False)
    assert index["message"] == "Warning: 1 embeddings are from an older model: run a reindex (missing)."
    ProductEmbedding.objects.filter(product=products[0]).delete()
    ProductEmbedding.objects.filter(product=products[1]).update(status=EmbeddingStatus.FAILED)
    index = staff_client.get("/healthz").json()["checks"]["search index"]
    assert index["message"].startswith("Warning: 1 product photos failed to embed")
    assert Product.objects.count() == 3
    assert Client().get("/healthz").json() == {"status": "ok"}
