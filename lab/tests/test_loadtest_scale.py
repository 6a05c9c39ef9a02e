"""``loadtest_scale`` end to end on a tiny catalogue: 80 photos of our own embedded by the real
model, 600 synthetic products in PostgreSQL, the artifact built with its tuned probe count,
nginx → gunicorn → a real query worker under 8 shoppers, every kind answered, a cold start."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from shop.importing.catalogue import CSV_COLUMNS
from shop.models import Product
from tests.support.servers import leased_redis_db
from visualsearch.models import IndexArtifact, ProductEmbedding

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TYPES = [("Tshirts", "Topwear", "Red"), ("Jeans", "Bottomwear", "Blue"), ("Watches", "Watches", "Black")]


def tiny_dataset(folder: Path, count: int = 80) -> Path:
    """styles.csv and ``count`` small JPEGs: three article types, each its own shape and colour."""
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    with open(folder / "styles.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for i in range(count):
            article, sub, colour = TYPES[i % 3]
            pid = 1000 + i
            name = f"{colour} {article}"
            writer.writerow([pid, "Men", "Apparel", sub, article, colour, "Summer", 2012, "Casual", name])
            pixels = np.full((120, 90, 3), 235, np.uint8)
            tone = {"Red": (200, 30, 30), "Blue": (30, 40, 190), "Black": (20, 20, 20)}[colour]
            top = 10 + (i % 3) * 25
            pixels[top : top + 60, 15 + int(rng.integers(0, 10)) : 75] = tone
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
            (folder / "images" / f"{pid}.jpg").write_bytes(buffer.getvalue())
    return folder


def test_the_load_test_runs_end_to_end_on_a_tiny_catalogue(tmp_path: Path) -> None:
    dataset = tiny_dataset(tmp_path / "dataset")
    out = io.StringIO()
    with leased_redis_db(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0") as broker:
        call_command(
            "loadtest_scale",
            products=600,
            real=80,
            dataset=str(dataset),
            cache=str(tmp_path / "real.npz"),
            requests=80,
            seconds=40,
            think=0.2,
            service=6,
            profile=3,
            profile_out=str(tmp_path / "profile.txt"),
            forward_passes=3,
            pages=3,
            broker=broker,
            keep_page_cache=True,
            yes=True,
            stdout=out,
            stderr=io.StringIO(),
        )
    report = out.getvalue()
    assert Product.objects.filter(external_id__startswith="scale-").count() == 600
    assert ProductEmbedding.objects.filter(source_checksum="synthetic").count() == 600
    artifact = IndexArtifact.objects.get(state=IndexArtifact.State.READY)
    assert artifact.rows == 600 and artifact.projection_id is not None  # PCA-256, as the site at scale
    assert 1 <= artifact.tuning["raw"]["nprobe"] <= artifact.tuning["raw"]["nlist"]
    assert f"FAISS raw space: nprobe {artifact.tuning['raw']['nprobe']} of" in report
    assert "8 shoppers through nginx → gunicorn" in report and "errors 0" in report
    # The service time (one request at a time), then both load models, every kind answered.
    lines = report.splitlines()
    service = lines.index(next(line for line in lines if "service time, one request at a time" in line))
    shop = lines.index(next(line for line in lines if line.strip().startswith("[shop]")))
    stress = lines.index(next(line for line in lines if line.strip().startswith("[stress]")))
    assert service < shop < stress
    for start in (service, shop, stress):
        for kind in ("catalogue", "similar_page", "similar_api", "photo"):
            line = next(line for line in lines[start + 1 :] if line.strip().startswith(kind))
            assert "errors 0" in line and " n     0 " not in line, report
    assert "CPU ms per request: gunicorn" in report and "machine: " in report
    # The in-process profile: per kind, its queries and where the time went, and the plans.
    profile = (tmp_path / "profile.txt").read_text()
    assert "catalogue: n 3," in profile and "EXPLAIN ANALYZE" in profile and "Index" in profile
    # The pass/fail table against the targets, for both models.
    assert "targets (read against [shop])" in report
    assert re.search(r"find similar API p50 ≤ 25 ms\s+[\d.]+ ms (PASS|FAIL) \|\s+[\d.]+ ms (PASS|FAIL)", report)
    assert "× the forward pass" in report
    assert "cold start of a web worker (page cache NOT dropped)" in report
