"""The web process serves pages, find-similar and the API without importing TensorFlow (or ONNX Runtime):
only the worker (or photo search in the embedded, broker-less default) loads the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)  # as a deploy does (hashed file names)

import numpy as np
from django.core.files.base import ContentFile
from django.test import Client
from shop.models import Product
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services.changelog import index_changes_record

rng = np.random.default_rng(0)
ids = []
for i in range(8):
    p = Product(name=f"Shirt {i}", gender="Men", master_category="Apparel", sub_category="Topwear",
                article_type="Shirts", base_colour="Blue")
    p.image.save(f"s{i}.jpg", ContentFile(b"not decoded by the web process"), save=False)
    Product.objects.bulk_create([p])  # no signals: nothing is queued
    vector = rng.standard_normal(2048).astype("<f4")
    ProductEmbedding.objects.create(product=p, vector=(vector / np.linalg.norm(vector)).tobytes(),
                                    status=EmbeddingStatus.DONE, model_version=MODEL_VERSION)
    ids.append(p.pk)
index_changes_record(ids)

client = Client()
for url in ["/", f"/products/{ids[0]}/", f"/products/{ids[0]}/similar/", f"/api/products/{ids[0]}/similar?k=5",
            "/search/photo/", "/?q=shirt&gender=Men"]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
assert len(client.get(f"/api/products/{ids[0]}/similar").json()["results"]) == 5
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"tensorflow", "keras", "onnxruntime"})
print("TF-MODULES:", loaded[:5])
sys.exit(1 if loaded else 0)
"""


@pytest.mark.slow  # a second Python process that migrates and collects static files (~2 s)
def test_pages_and_find_similar_do_not_import_tensorflow(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "test",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "TF-MODULES: []" in result.stdout
