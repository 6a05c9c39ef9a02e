"""What every inference engine offers: the ResNet50 forward pass on uint8 RGB images.

Every output comes from one forward pass of the same weights: ``embed`` the global-max-pooled
``conv5_block3_out`` features (N, 2048), not yet normalised; ``classify`` the ImageNet softmax
(N, 1000);
``embed_with_features`` the embedding's features with the stage-4 feature map the item
localiser reads (``visualsearch.ml.localiser``). Inputs are uint8 (or float) RGB arrays
(N, 224, 224, 3); the engine applies the model's own preprocessing (ResNet50 "caffe" mode)
and runs the batch in chunks of the configured batch size. Engines are thread-safe once built.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Engine(Protocol):
    """An inference engine (``visualsearch.ml.engines.tensorflow`` or ``.onnx``)."""

    name: str

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Pooled features (N, 2048) float32 of images (N, 224, 224, 3), not normalised."""
        ...

    def classify(self, images: np.ndarray) -> np.ndarray:
        """ImageNet probabilities (N, 1000) float32 of images (N, 224, 224, 3)."""
        ...

    def embed_with_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pooled features (N, 2048) and, from the same forward pass, the stage-4 feature map
        (N, 14, 14, 1024) the item localiser reads; one batch (photo search's few inputs)."""
        ...


def in_chunks(images: np.ndarray, batch_size: int, run: RunChunk) -> np.ndarray:
    """``run`` on float32 copies of ``images`` in chunks of ``batch_size``, concatenated."""
    outputs = []
    for start in range(0, len(images), batch_size):
        chunk = np.array(images[start : start + batch_size], dtype=np.float32, copy=True)
        outputs.append(np.asarray(run(chunk), dtype=np.float32))
    return np.concatenate(outputs, axis=0)


class RunChunk(Protocol):
    def __call__(self, chunk: np.ndarray) -> np.ndarray: ...
