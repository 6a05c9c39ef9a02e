"""Visual search on the shop's product admin (visualsearch.admin.products): the embedding status
column and filter, the "compute embeddings" action, and a product added by staff getting its
embedding.

Tasks run in-process (eager), on the real model where a test computes embeddings (slow).
"""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from shop.models import Product
from tests.support.embeddings import embedding
from tests.support.products import admin_product_form
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services import embeddings

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_product_changelist_shows_and_filters_by_embedding_status(admin_client: Client, embedded_product, make_product):
    done = embedded_product()
    failed = make_product()
    default_storage.delete(failed.image.name)
    embeddings.embeddings_compute([failed.pk])
    none = make_product()
    ProductEmbedding.objects.filter(product=none).delete()
    url = reverse("admin:shop_product_changelist")

    content = admin_client.get(url).content.decode()
    assert "column-embedding_status_tag" in content
    assert ">Done</span>" in content and ">Failed</span>" in content and ">Not computed</span>" in content

    for value, expected in (("done", done), ("failed", failed), ("none", none)):
        response = admin_client.get(url, {"embedding": value})
        assert [p.pk for p in response.context["cl"].result_list] == [expected.pk], value


@pytest.mark.slow
def test_compute_embeddings_action_queues_and_computes(admin_client: Client, real_model, make_product):
    products = [make_product(), make_product()]  # never committed: pending
    response = admin_client.post(
        reverse("admin:shop_product_changelist"),
        {"action": "compute_embeddings", "_selected_action": [p.pk for p in products]},
        follow=True,
    )
    assert "Queued embeddings for 2 product(s)" in response.content.decode()
    assert {embedding(p).status for p in products} == {EmbeddingStatus.DONE}


# --- A product added by staff -------------------------------------------------------------


@pytest.mark.slow
def test_staff_add_a_product_with_an_image_and_it_gets_an_embedding(
    admin_client: Client, make_image, real_weights, django_capture_on_commit_callbacks
) -> None:
    upload = make_image(size=(900, 1200))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:shop_product_add"),
            admin_product_form(SimpleUploadedFile("my photo.jpg", upload, content_type="image/jpeg")),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(name="Staff Added Red Tshirt")
    assert product.image.name.startswith("products/")
    assert product.thumbnail.name.startswith("thumbs/")  # 900×1200 gets a grid thumbnail
    row = embedding(product)
    assert row.status == EmbeddingStatus.DONE
    assert len(bytes(row.vector)) == 2048 * 4
    change = admin_client.get(reverse("admin:shop_product_change", args=[product.pk]))
    assert "Done" in change.content.decode()
    assert product.image.url in change.content.decode()  # preview


# --- Without the model ----------------------------------------------------------------------------


def test_the_filter_finds_products_never_embedded_and_their_page_says_so(admin_client: Client, make_product):
    pending = make_product()  # never committed: its embedding waits
    never = make_product()
    ProductEmbedding.objects.filter(product=never).delete()
    url = reverse("admin:shop_product_changelist")
    for value, expected in (("pending", pending), ("none", never)):
        response = admin_client.get(url, {"embedding": value})
        assert [p.pk for p in response.context["cl"].result_list] == [expected.pk], value
    page = admin_client.get(reverse("admin:shop_product_change", args=[never.pk])).content.decode()
    assert "Not computed yet." in page


def test_compute_embeddings_action_says_when_the_queue_is_down(admin_client: Client, make_product, monkeypatch):
    product = make_product()
    ProductEmbedding.objects.filter(product=product).update(status=EmbeddingStatus.FAILED, error="was broken")
    monkeypatch.setattr(embeddings, "embeddings_enqueue", lambda ids, force=False: False)
    response = admin_client.post(
        reverse("admin:shop_product_changelist"),
        {"action": "compute_embeddings", "_selected_action": [product.pk]},
        follow=True,
    )
    assert "The task queue is unavailable, nothing was queued." in response.content.decode()
    row = embedding(product)
    assert (row.status, row.error) == (EmbeddingStatus.PENDING, "")  # waits for the queue, marked pending
