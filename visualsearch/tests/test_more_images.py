"""Several photos per product in visual search, without the model (random unit vectors stand
in for embeddings, stored in PostgreSQL as the worker stores them): the live index holds every
product's more images beside its main one, photo search matches a product through any of its
photos and shows it once, find similar keeps one row per product, the change log keeps the
index fresh when an image is added or deleted, and ``reindex --missing`` covers images without
an embedding. The same through the real model: ``test_more_images_model.py``."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from shop.models import Product, ProductImage
from shop.services import catalogue_changes_announce
from tests.support.catalogue import catalogue_photo, rows_with_images, stored_catalogue
from tests.support.images import image_bytes
from visualsearch.index import ImageHit
from visualsearch.index.base import Hit
from visualsearch.index.images import ImageRowBlock, ImageRows
from visualsearch.index.loading import LiveIndex
from visualsearch.index.memory import RowBlock
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ImageEmbedding
from visualsearch.query.ranking import best_per_product, rank_photo, raw_photo_score
from visualsearch.services.changelog import index_changes_record
from visualsearch.services.reindex import reindex_targets

pytestmark = pytest.mark.django_db

ATTRS = ("Men", "Apparel", "Topwear", "Tshirts", "Red", True)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(1000 + seed).standard_normal(2048).astype(np.float32)
    return vector / np.linalg.norm(vector)


def add_image(product: Product, *, position: int = 1, vector: np.ndarray | None = None) -> ProductImage:
    """A more image of ``product`` (a file in storage); with ``vector``, its done embedding and
    the change-log entry the worker writes."""
    image = ProductImage(product=product, position=position)
    image.image.save(f"more-{product.pk}-{position}.jpg", ContentFile(image_bytes()), save=False)
    image.save()
    if vector is not None:
        ImageEmbedding.objects.create(
            image=image,
            product=product,
            vector=vector.astype("<f4").tobytes(),
            status=EmbeddingStatus.DONE,
            model_version=MODEL_VERSION,
        )
        index_changes_record([product.pk])
    return image


# --- The data structure -------------------------------------------------------------------------


def test_image_rows_search_replace_and_remove_by_product() -> None:
    rows = ImageRows().fit(
        [ImageRowBlock(RowBlock([11, 12, 21], np.stack([unit(1), unit(2), unit(3)]), [ATTRS] * 3), [1, 1, 2])]
    )
    assert len(rows) == 3 and rows.images_of(1) == [11, 12]
    hits = rows.similar_to_vector(unit(2), 3)
    assert hits[0] == ImageHit(12, 1, pytest.approx(1.0, abs=1e-5))
    assert {h.product_id for h in hits} == {1, 2}

    rows.replace_product(1, [(13, unit(4), ATTRS)])  # image 11 and 12 gone, 13 added
    assert rows.images_of(1) == [13] and len(rows) == 2
    assert rows.similar_to_vector(unit(4), 1)[0].image_id == 13
    assert all(h.image_id not in (11, 12) for h in rows.similar_to_vector(unit(2), 5))
    rows.remove_product(2)
    assert len(rows) == 1 and rows.images_of(2) == []
    # Filters apply to image rows as to products: a colour no row has answers nothing.
    assert rows.similar_to_vector(unit(4), 5, {"base_colour": "Blue"}) == []


def test_best_per_product_keeps_each_product_once_with_its_best_score() -> None:
    hits = [Hit(1, 0.5), Hit(2, 0.7), Hit(1, 0.9), Hit(3, 0.1), Hit(2, 0.2)]
    assert best_per_product(hits) == [Hit(1, 0.9), Hit(2, 0.7), Hit(3, 0.1)]


# --- Photo search through the live index ------------------------------------------------------------


def test_photo_search_finds_a_product_through_its_second_image_once(settings) -> None:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    products = stored_catalogue(8)
    target = products[3]
    second = unit(99)  # unlike every main image (random unit vectors are near-orthogonal)
    index = LiveIndex()
    before = rank_photo(index, second, None, 5, {})
    assert before[0].product_id != target.pk or before[0].score < 0.2  # nothing matches it yet

    image = add_image(target, vector=second)
    add_image(target, position=2, vector=0.9 * second + 0.1 * unit(98))  # a third, close to the second
    hits = rank_photo(index, second, None, 5, {})
    assert hits[0].product_id == target.pk and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert len({h.product_id for h in hits}) == len(hits) == 5  # each product once
    assert raw_photo_score(second, None, target.pk) == pytest.approx(1.0, abs=1e-4)
    # Find similar keeps one row per product: the main images only.
    assert len(index) == 8 and index.image_rows == 2
    assert index.images_of(target.pk) == sorted([image.pk, image.pk + 1])

    # Filters apply to the more images as to the product (its colour, stock).
    other_colour = next(p.base_colour for p in products if p.base_colour != target.base_colour)
    filtered = rank_photo(index, second, None, 5, {"base_colour": other_colour})
    assert target.pk not in [h.product_id for h in filtered]


def test_the_change_log_keeps_the_index_fresh_when_an_image_is_added_and_deleted(settings) -> None:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    products = stored_catalogue(4)
    target = products[1]
    index = LiveIndex()
    assert len(index) == 4 and index.image_rows == 0  # loaded

    image = add_image(target, vector=unit(7))
    assert index.images_of(target.pk) == [image.pk]  # a refresh, not a reload
    assert index.stats["full_loads"] == 1 and index.stats["refreshes"] >= 1

    # Deleting the image (as the admin does) removes its vector from the database and the index.
    image.delete()
    catalogue_changes_announce([target.pk])
    assert not ImageEmbedding.objects.filter(product=target).exists()
    assert index.images_of(target.pk) == []
    assert rank_photo(index, unit(7), None, 1, {})[0].score < 0.5
    # A deactivated product's images leave photo search with it.
    again = add_image(target, position=3, vector=unit(8))
    assert index.images_of(target.pk) == [again.pk]
    Product.objects.filter(pk=target.pk).update(is_active=False)
    catalogue_changes_announce([target.pk])
    assert target.pk not in index and index.images_of(target.pk) == [] and index.image_rows == 0


def test_reindex_missing_covers_products_whose_more_images_have_no_embedding() -> None:
    products = stored_catalogue(3)
    assert not reindex_targets("missing").exists()  # every main image embedded
    image = add_image(products[0])
    assert list(reindex_targets("missing")) == [products[0]]
    ImageEmbedding.objects.create(
        image=image, product=products[0], vector=unit(1).tobytes(), status="done", model_version=MODEL_VERSION
    )
    assert not reindex_targets("missing").exists()
    ImageEmbedding.objects.filter(image=image).update(model_version="older-model")
    assert list(reindex_targets("missing")) == [products[0]]


def test_a_catalogue_photo_is_a_valid_more_image() -> None:
    """The test images above are made up; the real photos load into the gallery just the same."""
    product = stored_catalogue(1)[0]
    image = ProductImage(product=product, position=1)
    image.image.save("real.jpg", ContentFile(catalogue_photo(rows_with_images(2)[1])), save=False)
    image.save()
    assert [photo.alt for photo in Product.objects.get(pk=product.pk).gallery] == [
        product.name,
        f"{product.name}, photo 2",
    ]


def test_the_product_admin_says_how_many_more_images_are_embedded(admin_client) -> None:
    from django.urls import reverse

    product = stored_catalogue(1)[0]
    add_image(product, vector=unit(1))
    failed = add_image(product, position=2)
    ImageEmbedding.objects.create(
        image=failed, product=product, status=EmbeddingStatus.FAILED, error="Unreadable image more-2.jpg: broken"
    )
    page = admin_client.get(reverse("admin:shop_product_change", args=[product.pk])).content.decode()
    assert "more images: 1 of 2 embedded, 1 failed" in page
    assert "Unreadable image more-2.jpg: broken" in page
