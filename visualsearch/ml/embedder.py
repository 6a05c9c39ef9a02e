"""The image embedding model: ResNet50 (ImageNet weights), global max pooling, L2-normalised.

This is the only module of the project that uses TensorFlow/Keras, and it imports them
lazily, inside functions: ``import visualsearch.ml.embedder`` stays cheap, so the web process
and the management commands that never embed do not load TensorFlow.

One model per process, loaded on first use (thread-safe) from the weights file that
``visualsearch.ml.weights.resolve_weights_path()`` finds; a missing file raises
``WeightsNotFound`` saying what to do. Random weights are used only where a test asks for
them by name (``use_random_weights_for_tests()`` or the setting
``VISUALSEARCH_RANDOM_WEIGHTS_FOR_TESTS = True``), never as a silent fallback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from visualsearch.conf import vs_settings

logger = logging.getLogger(__name__)

MODEL_VERSION = "resnet50-imagenet-gmp-v1"
EMBEDDING_DIM = 2048
NUM_CLASSES = 1000
INPUT_SHAPE = (224, 224, 3)
EMBEDDING_LAYER = "conv5_block3_out"
# The ImageNet weights were trained with Keras 2's BatchNormalization epsilon (1e-3);
# Keras 3's ResNet50 builds its BN layers with 1.001e-5, which shifts every activation.
BN_EPSILON = 1e-3
RANDOM_WEIGHTS_SEED = 0


@dataclass(frozen=True)
class _Models:
    """The loaded models: ``full`` has the 1000-class top, ``embedding`` shares its layers."""

    full: Any
    embedding: Any
    random_weights: bool


_lock = threading.Lock()
_models: _Models | None = None
# None: follow settings.VISUALSEARCH_RANDOM_WEIGHTS_FOR_TESTS; True/False: a test decided.
_random_override: bool | None = None


def _keras() -> Any:
    """Import and return Keras (TensorFlow backend), quietening TensorFlow's C++ logging."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build_resnet50(include_top: bool) -> Any:
    """A ResNet50 with uninitialised (random) weights and Keras 2's BN epsilon (1e-3).

    The epsilon is set on every BatchNormalization layer before any call, so the traced
    inference functions use it.
    """
    keras = _keras()
    model = keras.applications.ResNet50(weights=None, include_top=include_top, input_shape=INPUT_SHAPE)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = BN_EPSILON
    return model


def load_full_model(weights_path: str | Path) -> Any:
    """A fresh ResNet50 with the top, loaded from a Keras 3 ``.weights.h5`` file (not cached)."""
    model = build_resnet50(include_top=True)
    model.load_weights(str(weights_path))
    return model


def build_keras_imagenet_full_model() -> Any:
    """ResNet50 with Keras' own ImageNet weights (downloaded by Keras), in our architecture.

    The fallback when npm is not available: Keras downloads its ``.h5`` file, and its
    weights are copied layer by layer into ``build_resnet50(include_top=True)`` (the same
    layer names, but our BN epsilon). Raises whatever Keras raises when it cannot download.
    """
    keras = _keras()
    source = keras.applications.ResNet50(weights="imagenet", include_top=True, input_shape=INPUT_SHAPE)
    target = build_resnet50(include_top=True)
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def save_weights(model: Any, path: str | Path) -> None:
    """Write the model's weights to a Keras 3 weights file (the name must end in ``.weights.h5``)."""
    model.save_weights(str(path))


def _randomise_deterministically(model: Any) -> None:
    """Replace the weights with seeded He-normal kernels and neutral BN statistics.

    Keras' own initialisers are not seeded, so every process would embed differently;
    this gives the same random model in every test process.
    """
    rng = np.random.default_rng(RANDOM_WEIGHTS_SEED)
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if variable.name == "kernel":
                fan_in = int(np.prod(shape[:-1]))
                values.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))
            elif variable.name in ("gamma", "moving_variance"):
                values.append(np.ones(shape, np.float32))
            else:
                values.append(np.zeros(shape, np.float32))
        if values:
            layer.set_weights(values)


def use_random_weights_for_tests(enabled: bool | None = True) -> None:
    """TEST ONLY: load seeded random weights instead of the weights file; drops the cached model.

    ``enabled=False`` forces the real weights, ``None`` goes back to the setting
    ``VISUALSEARCH_RANDOM_WEIGHTS_FOR_TESTS``.
    """
    global _random_override
    with _lock:
        _random_override = enabled
    reset_model()


@contextlib.contextmanager
def weights_mode_for_tests(random: bool) -> Iterator[None]:
    """TEST ONLY: random (or real) weights inside the block, the previous mode after it."""
    previous = _random_override
    use_random_weights_for_tests(random)
    try:
        yield
    finally:
        use_random_weights_for_tests(previous)


def random_weights_requested() -> bool:
    """Whether the next load uses random weights: only if a test asked for them by name."""
    if _random_override is not None:
        return _random_override
    return bool(getattr(settings, "VISUALSEARCH_RANDOM_WEIGHTS_FOR_TESTS", False))


def _load_models() -> _Models:
    """Build the full model (real or test-random weights) and the embedding model on it."""
    keras = _keras()
    random_weights = random_weights_requested()
    full = build_resnet50(include_top=True)
    if random_weights:
        logger.warning("visualsearch: using RANDOM model weights (test mode); embeddings are meaningless")
        _randomise_deterministically(full)
    else:
        from visualsearch.ml.weights import resolve_weights_path

        path = resolve_weights_path()
        logger.info("visualsearch: loading %s weights from %s", MODEL_VERSION, path)
        full.load_weights(str(path))
    pooled = keras.layers.GlobalMaxPooling2D(name="embedding_gmp")(full.get_layer(EMBEDDING_LAYER).output)
    embedding = keras.Model(full.input, pooled, name="resnet50_gmp")
    # Create the predict functions under the lock, not racing in the first requests.
    full.make_predict_function()
    embedding.make_predict_function()
    return _Models(full=full, embedding=embedding, random_weights=random_weights)


def _get_models() -> _Models:
    """The process's models, loaded once (double-checked locking)."""
    global _models
    models = _models
    if models is None:
        with _lock:
            models = _models
            if models is None:
                models = _load_models()
                _models = models
    return models


def reset_model() -> None:
    """Drop the cached models; the next call loads them again (tests, or after new weights)."""
    global _models
    with _lock:
        _models = None


def model_version() -> str:
    """MODEL_VERSION, marked ``+random-test`` when the test-only random weights are loaded."""
    return MODEL_VERSION + ("+random-test" if _get_models().random_weights else "")


def _check_images(images: np.ndarray) -> np.ndarray:
    """Validate a batch of model inputs: an array of shape (N, 224, 224, 3)."""
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"expected images of shape (N, 224, 224, 3), got {array.shape}")
    return array


def _predict(model: Any, images: np.ndarray) -> np.ndarray:
    """Preprocess (float32 copy, ResNet50 caffe mode) and run ``predict_on_batch`` in chunks."""
    keras = _keras()
    batch_size = max(1, int(vs_settings.BATCH_SIZE))
    outputs = []
    for start in range(0, len(images), batch_size):
        chunk = np.array(images[start : start + batch_size], dtype=np.float32, copy=True)
        chunk = keras.applications.resnet50.preprocess_input(chunk)
        outputs.append(np.asarray(model.predict_on_batch(chunk), dtype=np.float32))
    return np.concatenate(outputs, axis=0)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; an all-zero row stays zero instead of dividing by zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_batch(images: np.ndarray) -> np.ndarray:
    """Embeddings of uint8 RGB images (N, 224, 224, 3): float32 (N, 2048), unit-norm rows."""
    array = _check_images(images)
    if len(array) == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return l2_normalise(_predict(_get_models().embedding, array))


def classify(images: np.ndarray, model: Any | None = None) -> np.ndarray:
    """ImageNet softmax probabilities (N, 1000) of uint8 RGB images (N, 224, 224, 3).

    ``model`` defaults to the process's cached model; verification passes a fresh one.
    """
    array = _check_images(images)
    if len(array) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    return _predict(model if model is not None else _get_models().full, array)


def warm_up() -> None:
    """Load the model now and run one dummy batch, so the first real request is fast."""
    embed_batch(np.zeros((1, *INPUT_SHAPE), np.uint8))
