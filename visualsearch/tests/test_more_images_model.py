"""Several photos per product through the real model: a shopper's photo of a product's SECOND
image (a catalogue photo no product has as its main image, placed on a background) finds that
product first, once, after the image was added; deleting the image removes its vector and the
product loses that match. Embeddings are computed by the real Celery task, run in-process
(eager) when the shop's announcement commits, as the admin triggers it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from shop.models import ProductImage
from shop.services import catalogue_changes_announce
from tests.support.catalogue import catalogue_photo, embedded_catalogue, rows_with_images
from visualsearch.ml.shopper_photos import placed_photo
from visualsearch.models import EmbeddingStatus, ImageEmbedding
from visualsearch.query.embedding import InProcessQueryEmbedder
from visualsearch.query.similar import similar_to_photo, similar_to_product

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_a_photo_of_a_products_second_image_finds_that_product_first(
    real_model, make_product, settings, django_capture_on_commit_callbacks
) -> None:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    products = embedded_catalogue(make_product, 12)
    second_row = rows_with_images(13)[12]  # a real photo that is no product's main image
    # The product gets a photo of another type as its second image: before, the photo finds
    # something else first; after, it finds this product.
    target = next(p for p in products if p.article_type != second_row["articleType"])
    photo = placed_photo(target.pk, catalogue_photo(second_row), seed=5).data
    embedder = InProcessQueryEmbedder()
    similar_before = [r.product.pk for r in similar_to_product(target, k=5).results]

    before = similar_to_photo(photo, k=5, preview=False, embedder=embedder)
    assert before.results[0].product.pk != target.pk

    image = ProductImage(product=target, position=1, alt_text="Detail")
    image.image.save("second.jpg", ContentFile(catalogue_photo(second_row)), save=False)
    image.save()
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_changes_announce([target.pk], images_changed=[target.pk])
    stored = ImageEmbedding.objects.get(image=image)
    assert stored.status == EmbeddingStatus.DONE and stored.product_id == target.pk

    after = similar_to_photo(photo, k=5, preview=False, embedder=embedder)
    found = [r.product.pk for r in after.results]
    assert found[0] == target.pk
    assert len(found) == len(set(found)) == 5  # the product appears once
    # Find similar keeps using the main image: the same neighbours as before.
    assert [r.product.pk for r in similar_to_product(target, k=5).results] == similar_before

    with django_capture_on_commit_callbacks(execute=True):
        image.delete()
        catalogue_changes_announce([target.pk])
    assert not ImageEmbedding.objects.exists()
    gone = similar_to_photo(photo, k=5, preview=False, embedder=embedder)
    assert [r.product.pk for r in gone.results] == [r.product.pk for r in before.results]
