"""Media on S3 through django-storages, against a local S3-compatible server (moto, 127.0.0.1).

Import, thumbnails, embeddings and pages only use Django's storage API, so switching the
default storage to S3 changes nothing else.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from shop.models import Product
from shop.services import product_image_derivatives_update
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.servers import free_port, start_process, wait_until
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.services import embeddings

pytestmark = pytest.mark.slow  # a moto server process, and the model

BUCKET = "lookalike-media"


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    port = free_port()
    executable = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    server = start_process("moto", [executable, "-H", "127.0.0.1", "-p", str(port)], env=dict(os.environ))
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            ).list_buckets()
            return True
        except Exception:
            return False

    try:
        wait_until(up, 30, what="the moto S3 server")
        yield endpoint
    finally:
        server.kill()


@pytest.fixture
def s3_media(s3_endpoint: str, settings, monkeypatch) -> boto3.client:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "querystring_auth": False,
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.mark.django_db
def test_catalogue_on_s3_imports_embeds_and_serves(
    s3_media, s3_endpoint: str, tmp_path: Path, real_weights, client, make_image
) -> None:
    folder = write_catalogue(tmp_path / "cat", catalogue_rows(6))
    call_command("import_catalogue", str(folder), "--no-embeddings", verbosity=0)
    keys = {item["Key"] for item in s3_media.list_objects_v2(Bucket=BUCKET)["Contents"]}
    products = list(Product.objects.all())
    assert {p.image.name for p in products} <= keys
    assert all(p.image.url.startswith(f"{s3_endpoint}/{BUCKET}/products/") for p in products)

    result = embeddings.embeddings_compute([p.pk for p in products])
    assert result.done == 6
    assert ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE).count() == 6

    big = products[0]
    big.image.save("large.jpg", ContentFile(make_image(size=(1200, 1600))), save=True)
    product_image_derivatives_update(big)
    big.refresh_from_db()
    assert big.thumbnail.name in {item["Key"] for item in s3_media.list_objects_v2(Bucket=BUCKET)["Contents"]}

    page = client.get("/").content.decode()
    assert f"{s3_endpoint}/{BUCKET}/" in page
    assert "/media/" not in page
