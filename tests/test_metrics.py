"""/metrics: request, database and visual-search metrics for Prometheus, to the monitoring
network only."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from shop.models import ProductVariant
from tests.support.embeddings import store_vector
from visualsearch.models import EmbeddingStatus, ProductEmbedding

pytestmark = pytest.mark.django_db


def scrape(address: str = "127.0.0.1") -> str:
    response = Client(REMOTE_ADDR=address).get("/metrics")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def test_strangers_get_a_404(settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200


def test_search_latency_index_state_and_site_gauges(make_product) -> None:
    products = [make_product(name=f"Shirt {i}") for i in range(6)]
    for i, product in enumerate(products):
        store_vector(product, seed=i)
        ProductVariant.objects.create(product=product, size="M", stock=2)
    ProductEmbedding.objects.filter(product=products[0]).update(status=EmbeddingStatus.FAILED)
    # Computed in the last 5 minutes: three done (counted), one failed (not counted); one done
    # 10 minutes ago and one with no time (not counted).
    now = timezone.now()
    ProductEmbedding.objects.filter(product__in=products[:4]).update(computed_at=now)
    ProductEmbedding.objects.filter(product=products[4]).update(computed_at=now - timedelta(minutes=10))
    before = scrape()
    computed_5m = "lookalike_embeddings_computed_5m"
    assert value(before, computed_5m) == 3
    assert "lookalike_index_rows" not in before  # nothing loaded yet: a scrape never loads it
    similar_count = 'lookalike_search_seconds_count{kind="similar"}'
    count_before = value(before, similar_count) if similar_count in before else 0
    assert Client().get(f"/products/{products[1].pk}/similar/").status_code == 200
    after = scrape()
    assert value(after, similar_count) == count_before + 1
    assert value(after, "lookalike_index_rows") == 6
    assert 0 <= value(after, "lookalike_index_staleness_seconds") < 60
    assert value(after, 'lookalike_embeddings{state="failed"}') == 1
    assert value(after, computed_5m) == 3  # a search computes no embedding
    ProductEmbedding.objects.filter(product=products[5]).update(computed_at=timezone.now())
    assert value(scrape(), computed_5m) == 4  # one more computed: exactly one more counted
    assert "django_http_requests_total_by_method_total" in after  # django-prometheus' own
    assert np.isfinite(value(after, "lookalike_index_version"))
