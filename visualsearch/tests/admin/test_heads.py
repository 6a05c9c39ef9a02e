"""The similarity heads admin (visualsearch.admin.heads) on heads stored by hand (no training,
no model): the page, activate, roll back, and staff without the permission refused. Training
from the page ("Retrain similarity"): visualsearch/tests/services/test_heads.py."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from visualsearch import selectors
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import SimilarityHead
from visualsearch.services import heads

pytestmark = pytest.mark.django_db

LIST = "admin:visualsearch_similarityhead_changelist"


def _said(response) -> str:
    """The messages the page (after the redirect) shows."""
    return " ".join(str(message) for message in response.context["messages"])


def _head(**fields) -> SimilarityHead:
    return SimilarityHead.objects.create(backbone_version=MODEL_VERSION, weights=b"", **fields)


def test_the_page_shows_each_head_and_the_buttons_switch_heads(admin_client: Client) -> None:
    old = _head(metrics={"eval": {"p5_type": 0.75}, "raw": {"p5_type": 0.5}}, training_seconds=61.6)
    new = _head(metrics={"eval": {"p5_type": 0.8}, "raw": {"p5_type": 0.5}}, params={"photo_space": "shrinkage 0.2"})
    heads.head_activate(new)
    page = admin_client.get(reverse(LIST)).content.decode()
    assert f"{MODEL_VERSION}+{new.version}" in page
    assert f"the learned photo space of {new.version} (shrinkage 0.2)" in page
    assert "0.800" in page and "0.750" in page and "62 s" in page
    assert f"Roll back {new.version}" in page

    response = admin_client.post(reverse("admin:visualsearch_similarityhead_activate", args=[old.pk]), follow=True)
    assert f"{old.version} is active" in _said(response)
    assert selectors.head_active() == old
    response = admin_client.post(reverse("admin:visualsearch_similarityhead_rollback"), follow=True)
    assert f"Rolled back: {new.version} is active." in _said(response)
    response = admin_client.post(reverse("admin:visualsearch_similarityhead_rollback"), follow=True)
    assert "Rolled back: find similar uses the raw vectors." in _said(response)
    assert selectors.head_active() is None


def test_staff_without_the_permission_see_the_page_but_cannot_switch(client: Client, django_user_model) -> None:
    head = _head()
    clerk = django_user_model.objects.create_user("clerk", password="x-secret-123", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_similarityhead"))
    client.force_login(clerk)
    page = client.get(reverse(LIST)).content.decode()
    assert reverse("admin:visualsearch_similarityhead_retrain") not in page  # no buttons
    assert reverse("admin:visualsearch_similarityhead_activate", args=[head.pk]) not in page
    for name, args in (("retrain", []), ("rollback", []), ("activate", [head.pk])):
        response = client.post(reverse(f"admin:visualsearch_similarityhead_{name}", args=args), follow=True)
        assert "You do not have permission to train or switch similarity heads." in _said(response), name
    assert selectors.head_active() is None and SimilarityHead.objects.count() == 1
    # The confirmation page is refused too.
    response = client.get(reverse("admin:visualsearch_similarityhead_retrain"), follow=True)
    assert "You do not have permission to train or switch similarity heads." in _said(response)
