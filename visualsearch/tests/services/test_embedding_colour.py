"""The colour descriptor is computed with the embedding, from the same pixels, and stored
with it; rows stored before it existed get it without a new forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from visualsearch.ml.colour import colour_descriptor, from_bytes
from visualsearch.ml.preprocessing import bytes_to_model_input
from visualsearch.models import IndexChange, ProductEmbedding
from visualsearch.services import embeddings

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_embedding_stores_the_colour_descriptor_of_the_same_image(embedded_product) -> None:
    product = embedded_product()
    row = ProductEmbedding.objects.get(product=product)
    stored = row.colour_array()
    assert stored is not None and len(bytes(row.colour)) == 392
    with product.image.open("rb") as handle:
        expected = colour_descriptor(bytes_to_model_input(handle.read()))
    np.testing.assert_allclose(stored, expected, atol=1e-3)


def test_a_row_without_colour_gets_it_without_a_new_vector(embedded_product) -> None:
    product = embedded_product()
    ProductEmbedding.objects.filter(product=product).update(colour=None)
    before = ProductEmbedding.objects.get(product=product)
    changes = IndexChange.objects.count()
    result = embeddings.embeddings_compute([product.pk])
    assert (result.done, result.unchanged) == (0, 1)  # the image did not change: no forward pass
    after = ProductEmbedding.objects.get(product=product)
    assert from_bytes(after.colour) is not None
    assert bytes(after.vector) == bytes(before.vector) and after.computed_at == before.computed_at
    assert IndexChange.objects.count() > changes  # the indexes pick the colour up
