"""Seeded random ResNet50 weights for tests that need a model but not a meaningful one.

The embedder loads the installed weights unless a test installs another source through its
seam, ``embedder.use_model_source()``; this module is that source. Embeddings computed on it
carry the version ``MODEL_VERSION + "+random-test"``, so they can never pass for real ones.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from visualsearch.ml import embedder

logger = logging.getLogger(__name__)

SEED = 0
VERSION = embedder.MODEL_VERSION + "+random-test"


def randomise_deterministically(model: Any) -> None:
    """Replace the weights with seeded He-normal kernels and neutral BN statistics.

    Keras' own initialisers are not seeded, so every process would embed differently;
    this gives the same random model in every test process.
    """
    rng = np.random.default_rng(SEED)
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


def random_full_model() -> Any:
    """A full ResNet50 (with its top) on the seeded random weights."""
    logger.warning("visualsearch: using RANDOM model weights (test mode); embeddings are meaningless")
    model = embedder.build_resnet50(include_top=True)
    randomise_deterministically(model)
    return model


RANDOM_WEIGHTS = embedder.ModelSource(load_full_model=random_full_model, version=VERSION)


@contextlib.contextmanager
def weights_mode(random: bool) -> Iterator[None]:
    """Random (or the installed real) weights inside the block, the previous source after it.

    Entering and leaving drop the process's cached model.
    """
    previous = embedder.use_model_source(RANDOM_WEIGHTS if random else None)
    try:
        yield
    finally:
        embedder.use_model_source(previous)
