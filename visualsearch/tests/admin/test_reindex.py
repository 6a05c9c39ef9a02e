"""The reindex admin (visualsearch.admin.reindex): the dashboard's live counts, staff only, and
starting a reindex from it (then "already running"). Running in the background:
visualsearch/tests/test_reindex_in_background.py; refusals: visualsearch/tests/test_bad_input.py.

Tasks run in-process (eager), on the real model where a test computes embeddings (slow).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from visualsearch.models import ReindexJob
from visualsearch.services import embeddings, reindex

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:visualsearch_reindex_dashboard"


@pytest.mark.slow
def test_dashboard_shows_live_counts_to_staff(admin_client: Client, embedded_product, make_product):
    embedded_product(), embedded_product()
    broken = make_product()
    default_storage.delete(broken.image.name)
    embeddings.embeddings_compute([broken.pk])
    make_product()  # pending: never committed

    response = admin_client.get(reverse(DASHBOARD))

    assert response.status_code == 200
    counts = response.context["counts"]
    assert (counts.products, counts.done, counts.failed, counts.pending) == (4, 2, 1, 1)
    content = response.content.decode()
    assert 'data-count="done">2<' in content and 'data-count="failed">1<' in content
    assert "Start a reindex" in content and "Reindex missing (2)" in content

    job = reindex.reindex_job_start(ReindexJob.Mode.MISSING, dispatch=False)
    content = admin_client.get(reverse(DASHBOARD)).content.decode()
    assert f"Reindex #{job.pk} running (missing only)" in content
    assert 'data-count="pending">2<' in content and "0 done" in content and "2 waiting" in content


def test_dashboard_refuses_non_staff(client: Client, django_user_model):
    url = reverse(DASHBOARD)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    client.force_login(django_user_model.objects.create_user("shopper", password="x"))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_start_from_the_dashboard_then_already_running(admin_client: Client, make_product):
    make_product(), make_product()
    start = reverse("admin:visualsearch_reindex_start")

    response = admin_client.post(start, {"mode": "all"}, follow=True)

    job = ReindexJob.objects.get()
    assert job.state == ReindexJob.State.RUNNING and job.requested_by == get_user_model().objects.get()
    assert f"Started reindex #{job.pk}: 2 product(s) queued." in response.content.decode()
    response = admin_client.post(start, {"mode": "missing"}, follow=True)
    assert f"Reindex #{job.pk} is already running" in response.content.decode()
    assert ReindexJob.objects.count() == 1
