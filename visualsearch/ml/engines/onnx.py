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
# The stage-4 feature map inside the export (tf2onnx's name for Keras' ``conv4_block6_out``):
# ``features_output`` adds it as a third output when the engine opens the file, so the item
# localiser reads it from photo search's one forward pass (the export itself is unchanged).
FEATURE_TENSOR_SUFFIX = "conv4_block6_out_1/Relu:0"


def features_output(model: Any) -> str | None:
    """Make the stage-4 feature map an output of ``model`` (an ``onnx.ModelProto``); its name,
    or None when the graph has no such tensor (another export)."""
    import onnx

    names = [out for node in model.graph.node for out in node.output if out.endswith(FEATURE_TENSOR_SUFFIX)]
    if len(names) != 1:
        return None
    if names[0] not in {output.name for output in model.graph.output}:
        model.graph.output.append(onnx.helper.make_tensor_value_info(names[0], onnx.TensorProto.FLOAT, None))
    return names[0]


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
        self.features: str | None = None
        source: str | bytes = str(self.path)
        try:
            import onnx

            model = onnx.load(str(self.path))
            self.features = features_output(model)
            if self.features is not None:
                source = model.SerializeToString()
        except Exception:  # the file is read again below, which says what is wrong with it
            self.features = None
        self.session = onnxruntime.InferenceSession(
            source, session_options(threads, spinning), providers=["CPUExecutionProvider"]
        )

    def _run(self, output: str, images: np.ndarray) -> np.ndarray:
        def run(chunk: np.ndarray) -> np.ndarray:
            return np.asarray(self.session.run([output], {INPUT_NAME: chunk})[0])

        return in_chunks(images, current_settings().batch_size, run)

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self._run(EMBEDDING_OUTPUT, images)

    def classify(self, images: np.ndarray) -> np.ndarray:
        return self._run(PROBABILITIES_OUTPUT, images)

    def embed_with_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.features is None:
            raise RuntimeError(f"{self.path} has no stage-4 feature map ({FEATURE_TENSOR_SUFFIX}): re-export it")
        pooled, features = self.session.run(
            [EMBEDDING_OUTPUT, self.features], {INPUT_NAME: np.asarray(images, dtype=np.float32)}
        )
        # The graph keeps ONNX's channels-first layout inside: (N, 1024, 14, 14) → (N, 14, 14, 1024).
        features = np.asarray(features, np.float32)
        if features.shape[1] != features.shape[2]:
            features = features.transpose(0, 2, 3, 1)
        return np.asarray(pooled, np.float32), np.ascontiguousarray(features)
