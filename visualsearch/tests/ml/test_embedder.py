"""The embedder: on the real weights (classifying, unit and deterministic embeddings,
batching, one load under concurrent first use) and on seeded random weights only when a
test asks for them; its input checks, which need no model.

The real weights must be installed (``python manage.py fetch_weights``): without them the
model tests fail with the WeightsNotFound message instead of being skipped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.support import random_weights
from visualsearch.ml import embedder, weights, weights_install

# Differences a vector of unit norm may show between batch shapes on any CPU (float32 rounding).
FLOAT_NOISE = 1e-6


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """The cat and espresso photos as model inputs, (2, 224, 224, 3) uint8."""
    return weights_install.verification_images()


# --- Without the model ------------------------------------------------------------------


def test_embed_batch_empty_and_wrong_shapes() -> None:
    assert embedder.embed_batch(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 2048)
    with pytest.raises(ValueError, match="224"):
        embedder.embed_batch(np.zeros((224, 224, 3), np.uint8))


def test_l2_normalise_leaves_zero_rows_zero() -> None:
    out = embedder.l2_normalise(np.array([[0.0, 0.0], [3.0, 4.0]], np.float32))
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.6, 0.8]])


# --- The model on real weights ----------------------------------------------------------


@pytest.mark.slow
def test_classifies_cat_and_espresso(real_model: None, photos: np.ndarray) -> None:
    probabilities = embedder.classify(photos)
    assert probabilities.shape == (2, 1000)
    assert np.argmax(probabilities, axis=1).tolist() == [285, 967]
    result = weights_install.check_predictions(probabilities)
    assert result.egyptian_cat > 0.5
    assert result.espresso > 0.9
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_verify_weights_accepts_the_installed_file(real_model: None) -> None:
    result = weights_install.verify_weights(weights.resolve_weights_path())
    assert result.egyptian_cat > 0.5 and result.espresso > 0.9


@pytest.mark.slow
def test_embeddings_are_unit_float32_rows(real_model: None, photos: np.ndarray) -> None:
    vectors = embedder.embed_batch(photos)
    assert vectors.shape == (2, embedder.EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.99  # a cat is not an espresso


@pytest.mark.slow
def test_embeddings_are_deterministic(real_model: None, photos: np.ndarray) -> None:
    # A vector must not depend on its batch neighbours or on the batch's size beyond float noise.
    # Not bit for bit: on AVX2 CPUs oneDNN picks other kernels for other batch shapes, and the
    # last bits move (up to ~4e-8 seen on an AMD EPYC); a neighbour's leak would move them by far more.
    noise = {"rtol": 0, "atol": FLOAT_NOISE}
    twice = embedder.embed_batch(np.stack([photos[0], photos[0]]))
    np.testing.assert_allclose(twice[0], twice[1], **noise)
    single = embedder.embed_batch(photos[1:2])
    batch = embedder.embed_batch(photos)
    np.testing.assert_allclose(batch[1], single[0], **noise)
    np.testing.assert_allclose(embedder.embed_batch(photos[1:2]), single, **noise)
    # ... and the tolerance is tight enough to see a different photo.
    assert np.abs(batch[0] - batch[1]).max() > 100 * FLOAT_NOISE


@pytest.mark.slow
def test_embed_batch_chunks_by_batch_size(real_model: None, photos: np.ndarray, settings) -> None:
    settings.VISUALSEARCH_BATCH_SIZE = 2
    images = np.concatenate([photos, photos[:1]])
    chunked = embedder.embed_batch(images)
    assert chunked.shape == (3, embedder.EMBEDDING_DIM)
    np.testing.assert_allclose(chunked[2], chunked[0], atol=1e-5)


@pytest.mark.slow
def test_concurrent_first_use_loads_the_model_once(real_model: None, photos: np.ndarray, monkeypatch) -> None:
    expected = embedder.embed_batch(photos)
    loads: list[int] = []
    original = embedder._load_models

    def counting_load() -> object:
        loads.append(1)
        return original()

    monkeypatch.setattr(embedder, "_load_models", counting_load)
    embedder.reset_model()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: embedder.embed_batch(photos), range(4)))
    assert len(loads) == 1
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


# --- Random weights only on request (these drop the cached model: keep them last) ---------


@pytest.mark.slow
def test_missing_weights_never_fall_back_to_random(settings, tmp_path: Path) -> None:
    settings.VISUALSEARCH_WEIGHTS = str(tmp_path / "missing.weights.h5")
    with (
        random_weights.weights_mode(False),
        pytest.raises(weights.WeightsNotFound, match="fetch_weights"),
    ):
        embedder.embed_batch(np.zeros((1, 224, 224, 3), np.uint8))


@pytest.mark.slow
def test_random_weights_only_when_asked(photos: np.ndarray) -> None:
    with random_weights.weights_mode(True):
        assert embedder.model_source() is random_weights.RANDOM_WEIGHTS
        first = embedder.embed_batch(photos)
        assert embedder.model_version() == embedder.MODEL_VERSION + "+random-test"
        embedder.reset_model()  # a reload gives the same seeded weights
        np.testing.assert_allclose(embedder.embed_batch(photos), first, atol=1e-5)
    assert embedder.model_source() is embedder.INSTALLED_WEIGHTS
    assert first.shape == (2, 2048)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
