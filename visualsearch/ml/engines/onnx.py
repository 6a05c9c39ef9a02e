"""The ONNX Runtime engine: the exported ResNet50 (``visualsearch.ml.onnx_export``) on the CPU.

One graph, both outputs of the reference's forward pass: ``embedding`` (the global-max-pooled
features) and ``probabilities`` (the classifier); its input ``images`` takes float RGB pixels
(0–255): the ResNet50 preprocessing is part of the graph. ONNX Runtime is imported when an
engine is built, never at module import; ``InferenceSession.run`` is thread-safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from visualsearch.ml.engines.base import in_chunks
from visualsearch.ml.settings import current as current_settings

INPUT_NAME = "images"
EMBEDDING_OUTPUT = "embedding"
PROBABILITIES_OUTPUT = "probabilities"


def session_options(threads: int, spinning: bool = False) -> Any:
    """ONNX Runtime session options: every graph optimisation; ``threads`` intra-op threads
    (0: ONNX Runtime's default, one per core), one inter-op thread (ResNet50 is a chain);
    ``spinning``: whether idle intra-op threads busy-wait (ONNX Runtime's default is to spin,
    which burns a core per thread between queries that the web processes need)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads > 0:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


class OnnxEngine:
    """An ONNX Runtime session on an exported model file."""

    name = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None, spinning: bool | None = None) -> None:
        import onnxruntime

        if threads is None:
            threads = current_settings().threads
        if spinning is None:
            spinning = current_settings().spinning
        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(
            str(self.path), session_options(threads, spinning), providers=["CPUExecutionProvider"]
        )

    def _run(self, output: str, images: np.ndarray) -> np.ndarray:
        def run(chunk: np.ndarray) -> np.ndarray:
            return np.asarray(self.session.run([output], {INPUT_NAME: chunk})[0])

        return in_chunks(images, current_settings().batch_size, run)

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self._run(EMBEDDING_OUTPUT, images)

    def classify(self, images: np.ndarray) -> np.ndarray:
        return self._run(PROBABILITIES_OUTPUT, images)
