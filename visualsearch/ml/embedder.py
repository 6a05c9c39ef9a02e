"""The image embedding model: ResNet50 (ImageNet weights), global max pooling, L2-normalised.

The one entry point for inference (embedding and classifying), whatever engine runs it:
``visualsearch.ml.engines`` holds the engines (TensorFlow, the reference; ONNX Runtime on
the checked export of the same weights) and the choice between them (the ``engine``
setting, VISUALSEARCH_ENGINE). Nothing here imports TensorFlow or ONNX Runtime: the chosen
engine does, when it is first used, so ``import visualsearch.ml.embedder`` stays cheap and a
process loads only the engine it uses. No Django either: the settings come from
``visualsearch.ml.settings``.

One engine per process, loaded on first use (thread-safe) from the weights file that
``visualsearch.ml.weights.resolve_weights_path()`` finds; a missing file raises
``WeightsNotFound`` saying what to do, never a silent fallback. ``use_model_source()`` is
the one seam to load other weights (the tests' seeded random weights,
``tests/support/random_weights.py``), under a version of their own; those always run on
TensorFlow (they have no ONNX export).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from visualsearch.ml.engines import EngineChoice, choose_engine
from visualsearch.ml.engines.base import Engine
from visualsearch.ml.engines.tensorflow import (
    INPUT_SHAPE,
    build_keras_imagenet_full_model,
    build_resnet50,
    load_full_model,
    save_weights,
)
from visualsearch.ml.onnx_files import onnx_path
from visualsearch.ml.settings import current as current_settings
from visualsearch.ml.weights import resolve_weights_path

logger = logging.getLogger(__name__)

# Unchanged by the ONNX engine: its export is used only when its vectors match TensorFlow's
# (every cosine >= onnx_export.MIN_COSINE), so stored embeddings stay valid.
MODEL_VERSION = "resnet50-imagenet-gmp-v1"
EMBEDDING_DIM = 2048
NUM_CLASSES = 1000

__all__ = [
    "EMBEDDING_DIM",
    "INPUT_SHAPE",
    "MODEL_VERSION",
    "NUM_CLASSES",
    "ModelSource",
    "build_keras_imagenet_full_model",
    "build_resnet50",
    "classify",
    "embed_batch",
    "embed_with_features",
    "engine_choice",
    "engine_name",
    "load_full_model",
    "save_weights",
    "use_model_source",
    "warm_up",
]


@dataclass(frozen=True)
class _Loaded:
    """The process's engine, the version of the weights it runs, and why that engine."""

    engine: Engine
    version: str
    choice: EngineChoice


@dataclass(frozen=True)
class ModelSource:
    """Where the full Keras model (ResNet50 with its top, weights set) comes from, and the model
    version the embeddings it computes are stored under."""

    load_full_model: Callable[[], Any]
    version: str


_lock = threading.Lock()
_loaded: _Loaded | None = None
_source: ModelSource | None = None  # None: the installed weights file (INSTALLED_WEIGHTS)


def _load_installed_full_model() -> Any:
    """The full Keras model with the installed weights (``resolve_weights_path()``)."""
    path = resolve_weights_path()
    logger.info("visualsearch: loading %s weights from %s", MODEL_VERSION, path)
    return load_full_model(path)


INSTALLED_WEIGHTS = ModelSource(load_full_model=_load_installed_full_model, version=MODEL_VERSION)


def use_model_source(source: ModelSource | None) -> ModelSource | None:
    """Load the models from ``source`` from now on (None: the installed weights file) and
    drop the cached ones; returns the previous source, to put back later."""
    global _source, _loaded
    with _lock:
        previous = _source
        _source = source
        _loaded = None
    return previous


def model_source() -> ModelSource:
    """The source the next load uses."""
    return _source or INSTALLED_WEIGHTS


def engine_choice() -> EngineChoice:
    """The engine the next load will use and why (reads the settings and the export's manifest)."""
    return choose_engine(current_settings(), installed_weights=model_source() is INSTALLED_WEIGHTS)


def _load_tensorflow(source: ModelSource) -> Engine:
    from visualsearch.ml.engines.tensorflow import TensorFlowEngine

    return TensorFlowEngine.load(source.load_full_model)


def _load_models() -> _Loaded:
    """Build the chosen engine on the current source; ONNX Runtime failing to open the export
    falls back to TensorFlow, saying so."""
    source = model_source()
    choice = engine_choice()
    if choice.name == "onnx":
        resolve_weights_path()  # a missing weights file says so, whatever the engine
        try:
            from visualsearch.ml.engines.onnx import OnnxEngine

            engine: Engine = OnnxEngine(onnx_path())
        except Exception as exc:  # a corrupt file or a runtime that cannot open it
            choice = EngineChoice("tensorflow", f"ONNX Runtime could not load {onnx_path()}: {exc}", True)
        else:
            logger.info("visualsearch: inference on ONNX Runtime: %s", choice.reason)
            return _Loaded(engine, source.version, choice)
    if choice.fallback and current_settings().engine == "onnx":
        logger.warning(
            "visualsearch: VISUALSEARCH_ENGINE is 'onnx', but inference runs on TensorFlow: %s", choice.reason
        )
    else:
        logger.info("visualsearch: inference on TensorFlow: %s", choice.reason)
    return _Loaded(_load_tensorflow(source), source.version, choice)


def _get_models() -> _Loaded:
    """The process's engine, loaded once (double-checked locking)."""
    global _loaded
    loaded = _loaded
    if loaded is None:
        with _lock:
            loaded = _loaded
            if loaded is None:
                loaded = _load_models()
                _loaded = loaded
    return loaded


def reset_model() -> None:
    """Drop the cached engine; the next call loads one again (tests, new weights or settings)."""
    global _loaded
    with _lock:
        _loaded = None


def model_version() -> str:
    """The loaded models' version: MODEL_VERSION for the installed weights, the source's own
    otherwise (the tests' random weights: ``MODEL_VERSION + "+random-test"``)."""
    return _get_models().version


def engine_name() -> str:
    """The name of the engine this process runs ("onnx" or "tensorflow"), loading it if need be."""
    return _get_models().engine.name


def _check_images(images: np.ndarray) -> np.ndarray:
    """Validate a batch of model inputs: an array of shape (N, 224, 224, 3)."""
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"expected images of shape (N, 224, 224, 3), got {array.shape}")
    return array


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; an all-zero row stays zero instead of dividing by zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_batch(images: np.ndarray) -> np.ndarray:
    """Embeddings of uint8 RGB images (N, 224, 224, 3): float32 (N, 2048), unit-norm rows."""
    array = _check_images(images)
    if len(array) == 0:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return l2_normalise(_get_models().engine.embed(array))


def embed_with_features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, 2048, unit-norm) of uint8 RGB images (N, 224, 224, 3) and, from the same
    forward pass, their stage-4 feature maps (N, 14, 14, 1024) for the item localiser."""
    array = _check_images(images)
    vectors, features = _get_models().engine.embed_with_features(array)
    return l2_normalise(vectors), features


def classify(images: np.ndarray, model: Any | None = None) -> np.ndarray:
    """ImageNet softmax probabilities (N, 1000) of uint8 RGB images (N, 224, 224, 3).

    ``model`` defaults to the process's engine; verification passes a fresh Keras model.
    """
    array = _check_images(images)
    if len(array) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    if model is not None:
        from visualsearch.ml.engines.tensorflow import predict

        return predict(model, array)
    return _get_models().engine.classify(array)


def warm_up() -> None:
    """Load the engine now and run one dummy batch, so the first real request is fast."""
    embed_batch(np.zeros((1, *INPUT_SHAPE), np.uint8))
