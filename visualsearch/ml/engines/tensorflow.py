"""The TensorFlow (Keras 3) engine: the model's reference.

It builds ResNet50 (Keras 2's BatchNormalization epsilon), loads and saves the weights files,
verifies them (``weights_install``) and is what the ONNX export is checked against
(``onnx_export``). Keras is imported lazily, inside functions: importing this module stays
cheap, and a process that runs the ONNX engine never loads TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from visualsearch.ml.engines.base import in_chunks
from visualsearch.ml.settings import current as current_settings

INPUT_SHAPE = (224, 224, 3)
EMBEDDING_LAYER = "conv5_block3_out"
# The feature map the item localiser reads (14×14×1024 for a 224×224 input): the last block of
# stage 4, one stride finer than the embedding's.
FEATURE_LAYER = "conv4_block6_out"
# The ImageNet weights were trained with Keras 2's BatchNormalization epsilon (1e-3);
# Keras 3's ResNet50 builds its BN layers with 1.001e-5, which shifts every activation.
BN_EPSILON = 1e-3


def keras_module() -> Any:
    """Import and return Keras (TensorFlow backend), quietening TensorFlow's C++ logging."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build_resnet50(include_top: bool) -> Any:
    """A ResNet50 with uninitialised (random) weights and Keras 2's BN epsilon (1e-3).

    The epsilon is set on every BatchNormalization layer before any call, so the traced
    inference functions use it.
    """
    keras = keras_module()
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
    keras = keras_module()
    source = keras.applications.ResNet50(weights="imagenet", include_top=True, input_shape=INPUT_SHAPE)
    target = build_resnet50(include_top=True)
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def save_weights(model: Any, path: str | Path) -> None:
    """Write the model's weights to a Keras 3 weights file (the name must end in ``.weights.h5``)."""
    model.save_weights(str(path))


def embedding_model(full: Any) -> Any:
    """The embedding model on ``full``'s layers: ``conv5_block3_out`` global-max-pooled."""
    keras = keras_module()
    pooled = keras.layers.GlobalMaxPooling2D(name="embedding_gmp")(full.get_layer(EMBEDDING_LAYER).output)
    return keras.Model(full.input, pooled, name="resnet50_gmp")


def predict(model: Any, images: np.ndarray) -> np.ndarray:
    """Preprocess (float32 copy, ResNet50 caffe mode) and run ``predict_on_batch`` in chunks."""
    keras = keras_module()

    def run(chunk: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(keras.applications.resnet50.preprocess_input(chunk)))

    return in_chunks(images, current_settings().batch_size, run)


class TensorFlowEngine:
    """ResNet50 in Keras: ``full`` (with the 1000-class top) and ``embedding`` sharing its layers."""

    name = "tensorflow"

    def __init__(self, full: Any) -> None:
        self.full = full
        self.embedding = embedding_model(full)
        keras = keras_module()
        self.located = keras.Model(full.input, [self.embedding.output, full.get_layer(FEATURE_LAYER).output])
        # Create the predict functions now (under the caller's lock), not racing in the first requests.
        full.make_predict_function()
        self.embedding.make_predict_function()
        self.located.make_predict_function()

    @classmethod
    def load(cls, load_full_model: Callable[[], Any]) -> TensorFlowEngine:
        """The engine on the full model ``load_full_model()`` returns."""
        return cls(load_full_model())

    def embed(self, images: np.ndarray) -> np.ndarray:
        return predict(self.embedding, images)

    def classify(self, images: np.ndarray) -> np.ndarray:
        return predict(self.full, images)

    def embed_with_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keras = keras_module()
        array = np.array(images, dtype=np.float32, copy=True)
        pooled, features = self.located.predict_on_batch(keras.applications.resnet50.preprocess_input(array))
        return np.asarray(pooled, np.float32), np.asarray(features, np.float32)
