"""The admin of visual search: the reindex dashboard, starting a reindex, the embedding
status column, filter and action on the shop's product list, and a product added by staff
getting its embedding.

Tasks run in-process (eager), on the real model where a test computes embeddings (slow).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from shop.models import Product
from tests.support.embeddings import embedding
from tests.support.products import admin_product_form
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.services import embeddings, reindex

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:visualsearch_reindex_dashboard"


# --- Reindex dashboard and product list ------------------------------------------------


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
