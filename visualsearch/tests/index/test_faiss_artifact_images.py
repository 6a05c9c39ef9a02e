"""The products' more images in the FAISS artifact (issue 20): the build writes their vectors
(photo search's space, compressed as the products') with their product ids, a FAISS site maps
them from the artifact instead of holding them in memory, and the change log since the build
goes into an exact overlay (an added photo is found, a deleted one disappears). An artifact of
the previous format is refused with a clear log line and the exact index serves. Synthetic
unit vectors stand in for embeddings (the real model's test of the exact path:
``test_more_images_model.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from shop.services import catalogue_changes_announce
from tests.support.catalogue import stored_catalogue
from visualsearch.index import artifact as artifact_mod
from visualsearch.index import get_index, reset_index
from visualsearch.index.faiss_index import FaissIndex
from visualsearch.index.images import ImageRows
from visualsearch.index.loading import LiveIndex
from visualsearch.models import IndexArtifact, ProductEmbedding
from visualsearch.query.ranking import rank_photo
from visualsearch.services import artifacts
from visualsearch.tests.test_more_images import add_image, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def faiss_site(tmp_path: Path, settings):
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    with override_settings(
        VISUALSEARCH_INDEX_CLASS="visualsearch.index.faiss_index.FaissIndex",
        VISUALSEARCH_ARTIFACT_CACHE_DIR=str(tmp_path / "cache"),
    ):
        reset_index()
        yield tmp_path / "cache"
    reset_index()


def near(vector: np.ndarray, seed: int) -> np.ndarray:
    """A photo of the same item: close to ``vector``, not a copy."""
    mixed = 0.95 * vector + 0.05 * unit(seed)
    return mixed / np.linalg.norm(mixed)


def test_an_artifact_with_more_images_answers_a_photo_of_a_second_image(faiss_site: Path) -> None:
    products = stored_catalogue(12)
    seconds = {}
    for i, product in enumerate(products[:8]):  # 8 products with two more images each
        seconds[product.pk] = unit(200 + i)
        add_image(product, position=1, vector=seconds[product.pk])
        add_image(product, position=2, vector=unit(300 + i))
    row = artifacts.artifact_build()
    assert row.state == IndexArtifact.State.READY, row.error
    for name in artifact_mod.IMAGE_FILES:
        assert default_storage.exists(f"{row.path}/{name}")

    index = get_index()
    assert isinstance(index, LiveIndex) and index.artifact_version == row.pk
    assert index.image_rows == 16
    images = index.images  # the structure serving photo search's more images
    assert isinstance(images.structure, FaissIndex)  # from the artifact, not the exact rows
    assert isinstance(images.structure.artifact.ids, np.memmap) and images.mapped_bytes() > 0
    assert images.memory_bytes() < 50_000  # no 16 rows of vectors held: a mask and empty maps
    target = products[5]
    assert len(index.images_of(target.pk)) == 2
    hits = rank_photo(index, near(seconds[target.pk], 1), None, 5, {})
    assert hits[0].product_id == target.pk and hits[0].score > 0.9
    assert len({h.product_id for h in hits}) == len(hits)  # each product once
    # Filters apply to the artifact's image rows as to products.
    other = next(p.base_colour for p in products if p.base_colour != target.base_colour)
    assert target.pk not in [
        h.product_id for h in rank_photo(index, seconds[target.pk], None, 5, {"base_colour": other})
    ]


def test_photos_added_and_deleted_after_the_build_go_through_the_overlay(faiss_site: Path) -> None:
    products = stored_catalogue(10)
    kept = {p.pk: add_image(p, vector=unit(400 + i)) for i, p in enumerate(products[:6])}
    row = artifacts.artifact_build()
    assert row.state == IndexArtifact.State.READY, row.error
    index = get_index()
    assert index.artifact_version == row.pk and index.image_rows == 6

    # Added after the build: found through the overlay, the artifact still serving.
    target = products[8]
    added = add_image(target, vector=unit(500))
    assert index.images_of(target.pk) == [added.pk]
    assert rank_photo(index, near(unit(500), 2), None, 1, {})[0].product_id == target.pk
    assert index.artifact_version == row.pk and index.stats["artifact_loads"] == 1

    # Deleted after the build: an artifact row masked out.
    gone = products[2]
    kept[gone.pk].delete()
    catalogue_changes_announce([gone.pk])
    assert index.images_of(gone.pk) == []
    hits = rank_photo(index, unit(402), None, 3, {})
    assert hits[0].product_id != gone.pk or hits[0].score < 0.5
    assert index.image_rows == 6  # 6 built - 1 deleted + 1 added

    # A second photo of a product already in the artifact: both served, the new one exact.
    other = products[0]
    second = add_image(other, position=2, vector=unit(600))
    assert index.images_of(other.pk) == sorted([kept[other.pk].pk, second.pk])
    assert rank_photo(index, near(unit(600), 3), None, 1, {})[0].product_id == other.pk
    assert rank_photo(index, near(unit(400), 4), None, 1, {})[0].product_id == other.pk
    assert index.artifact_version == row.pk


def test_an_artifact_of_the_previous_format_is_refused_and_exact_serves(faiss_site: Path, caplog) -> None:
    products = stored_catalogue(6)
    add_image(products[1], vector=unit(700))
    row = artifacts.artifact_build()
    meta_key = f"{row.path}/{artifact_mod.META}"
    with default_storage.open(meta_key, "rb") as fh:
        meta = json.loads(fh.read())
    default_storage.delete(meta_key)
    default_storage.save(meta_key, _file(json.dumps({**meta, "format": 1})))

    with caplog.at_level(logging.WARNING):
        index = get_index()
        assert len(index) == 6
    assert index.artifact_version is None and index.stats["artifact_refusals"] == 1
    assert "artifact format 1" in caplog.text and "rebuild" in caplog.text
    # The exact index serves the more images meanwhile, and the refusal is not retried.
    assert rank_photo(index, unit(700), None, 1, {})[0].product_id == products[1].pk
    index.refresh()
    assert index.stats["artifact_refusals"] == 1
    # The periodic check rebuilds an artifact of an older format at once; the rebuild is served.
    assert artifacts.artifact_format(row) == 1
    newer = artifacts.artifact_build_if_due()
    assert newer is not None and artifacts.artifact_format(newer) == artifact_mod.FORMAT
    assert artifacts.artifact_build_if_due() is None  # and only once
    index.refresh()
    assert index.artifact_version == newer.pk


def test_a_catalogue_without_more_images_builds_without_their_files(faiss_site: Path) -> None:
    products = stored_catalogue(6)
    row = artifacts.artifact_build()
    assert row.state == IndexArtifact.State.READY, row.error
    assert not default_storage.exists(f"{row.path}/{artifact_mod.IMAGES_RAW}")
    index = get_index()
    assert index.artifact_version == row.pk and index.image_rows == 0
    assert not isinstance(index.images.structure, FaissIndex)
    # An image added later is served exactly beside the artifact.
    image = add_image(products[3], vector=unit(800))
    assert index.images_of(products[3].pk) == [image.pk]
    assert ProductEmbedding.objects.count() == 6


def test_image_rows_from_an_artifact_are_not_refitted(faiss_site: Path) -> None:
    products = stored_catalogue(4)
    add_image(products[0], vector=unit(900))
    artifacts.artifact_build()
    index = get_index()
    assert len(index) == 4 and index.image_rows == 1
    with pytest.raises(TypeError):
        ImageRows.fit(index.images, [])


def _file(text: str):
    from django.core.files.base import ContentFile

    return ContentFile(text.encode())
