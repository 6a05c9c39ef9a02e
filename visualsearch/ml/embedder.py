"""The image embedding model: ResNet50 (ImageNet weights), global max pooling, L2-normalised.

This is the only module of the project that uses TensorFlow/Keras, and it imports them
lazily, inside functions: ``import visualsearch.ml.embedder`` stays cheap, so the web process
and the management commands that never embed do not load TensorFlow. No Django either: the
weights file and batch size come from ``visualsearch.ml.settings``.

One model per process, loaded on first use (thread-safe) from the weights file that
``visualsearch.ml.weights.resolve_weights_path()`` finds; a missing file raises
``WeightsNotFound`` saying what to do, never a silent fallback. ``use_model_source()`` is
the one seam to load other weights (the tests' seeded random weights,
``tests/support/random_weights.py``), under a version of their own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visualsearch.ml.settings import current as current_settings
from visualsearch.ml.weights import resolve_weights_path

logger = logging.getLogger(__name__)

MODEL_VERSION = "resnet50-imagenet-gmp-v1"
EMBEDDING_DIM = 2048
NUM_CLASSES = 1000
INPUT_SHAPE = (224, 224, 3)
EMBEDDING_LAYER = "conv5_block3_out"
# The ImageNet weights were trained with Keras 2's BatchNormalization epsilon (1e-3);
# Keras 3's ResNet50 builds its BN layers with 1.001e-5, which shifts every activation.
BN_EPSILON = 1e-3


@dataclass(frozen=True)
class _Models:
    """The loaded models: ``full`` has the 1000-class top, ``embedding`` shares its layers."""

    full: Any
    embedding: Any
    version: str


@dataclass(frozen=True)
class ModelSource:
    """Where the full model (ResNet50 with its top, weights set) comes from, and the model
    version the embeddings it computes are stored under."""

    load_full_model: Callable[[], Any]
    version: str


_lock = threading.Lock()
_models: _Models | None = None
_source: ModelSource | None = None  # None: the installed weights file (INSTALLED_WEIGHTS)


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


def _load_installed_full_model() -> Any:
    """The full model with the installed weights (``resolve_weights_path()``)."""
    path = resolve_weights_path()
    logger.info("visualsearch: loading %s weights from %s", MODEL_VERSION, path)
    return load_full_model(path)


INSTALLED_WEIGHTS = ModelSource(load_full_model=_load_installed_full_model, version=MODEL_VERSION)


def use_model_source(source: ModelSource | None) -> ModelSource | None:
    """Load the models from ``source`` from now on (None: the installed weights file) and
    drop the cached ones; returns the previous source, to put back later."""
    global _source, _models
    with _lock:
        previous = _source
        _source = source
        _models = None
    return previous


def model_source() -> ModelSource:
    """The source the next load uses."""
    return _source or INSTALLED_WEIGHTS


def _load_models() -> _Models:
    """Build the full model from the current source and the embedding model on it."""
    keras = _keras()
    source = model_source()
    full = source.load_full_model()
    pooled = keras.layers.GlobalMaxPooling2D(name="embedding_gmp")(full.get_layer(EMBEDDING_LAYER).output)
    embedding = keras.Model(full.input, pooled, name="resnet50_gmp")
    # Create the predict functions under the lock, not racing in the first requests.
    full.make_predict_function()
    embedding.make_predict_function()
    return _Models(full=full, embedding=embedding, version=source.version)


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
    """The loaded models' version: MODEL_VERSION for the installed weights, the source's own
    otherwise (the tests' random weights: ``MODEL_VERSION + "+random-test"``)."""
    return _get_models().version


def _check_images(images: np.ndarray) -> np.ndarray:
    """Validate a batch of model inputs: an array of shape (N, 224, 224, 3)."""
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"expected images of shape (N, 224, 224, 3), got {array.shape}")
    return array


def _predict(model: Any, images: np.ndarray) -> np.ndarray:
    """Preprocess (float32 copy, ResNet50 caffe mode) and run ``predict_on_batch`` in chunks."""
    keras = _keras()
    batch_size = current_settings().batch_size
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
