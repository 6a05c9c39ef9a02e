"""The in-memory EmbeddingIndex built from arrays (as the benchmarks build it): exact kNN
and filters, with no database and no model."""

from __future__ import annotations

import numpy as np

from tests.support.index_probe import stored_attributes
from visualsearch.index.memory import EmbeddingIndex


def test_index_from_arrays_is_exact_and_filters() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 2048)).astype(np.float32)
    ids = list(range(1000, 1500))
    colours = ["Red" if i % 3 == 0 else "Blue" for i in range(500)]
    index = EmbeddingIndex.from_arrays(ids, vectors, {"base_colour": colours})
    assert len(index) == 500
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[7] + 0.1 * rng.standard_normal(2048).astype(np.float32)
    expected = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:5]
    assert [h.product_id for h in index.similar_to_vector(query, 5)] == [ids[i] for i in expected]
    red = index.similar_to_vector(query, 5, {"base_colour": "Red"})
    assert len(red) == 5 and all(stored_attributes(index, h.product_id)["base_colour"] == "Red" for h in red)
    assert index.filter_values()["base_colour"] == ["Blue", "Red"]
