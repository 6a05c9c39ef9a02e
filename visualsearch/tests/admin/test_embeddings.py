"""The embeddings list for staff (visualsearch.admin.embeddings): searchable, read-only, and
"compute these embeddings again" with the task queue up or down (no model: the queue is
stubbed)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.embeddings import embedding
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services import embeddings

pytestmark = pytest.mark.django_db

LIST = "admin:visualsearch_productembedding_changelist"


def test_the_list_searches_errors_and_adds_nothing(admin_client: Client, make_product) -> None:
    broken, fine = make_product(name="Broken Tee"), make_product(name="Fine Tee")
    ProductEmbedding.objects.filter(product=broken).update(status=EmbeddingStatus.FAILED, error="truncated file")
    response = admin_client.get(reverse(LIST), {"q": "truncated"})
    assert [row.product_id for row in response.context["cl"].result_list] == [broken.pk]
    response = admin_client.get(reverse(LIST), {"status__exact": "pending"})
    assert [row.product_id for row in response.context["cl"].result_list] == [fine.pk]
    assert admin_client.get(reverse("admin:visualsearch_productembedding_add")).status_code == 403


def test_compute_again_queues_or_says_the_queue_is_down(admin_client: Client, make_product, monkeypatch) -> None:
    product = make_product()
    ProductEmbedding.objects.filter(product=product).update(status=EmbeddingStatus.FAILED, error="truncated file")
    queued: list[list[int]] = []

    def enqueue(ids, force=False) -> bool:
        queued.append(list(ids))
        return up

    monkeypatch.setattr(embeddings, "embeddings_enqueue", enqueue)
    action = {"action": "retry", "_selected_action": [product.pk]}
    up = False
    response = admin_client.post(reverse(LIST), action, follow=True)
    assert "The task queue is unavailable; nothing was queued." in response.content.decode()
    assert (embedding(product).status, embedding(product).error) == (EmbeddingStatus.PENDING, "")
    up = True
    response = admin_client.post(reverse(LIST), action, follow=True)
    assert "Queued 1 embedding(s) again." in response.content.decode()
    assert queued == [[product.pk], [product.pk]]
