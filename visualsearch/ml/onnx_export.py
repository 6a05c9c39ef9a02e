"""Export tooling: the TensorFlow reference model to ONNX, checked before it is used.

``fetch_weights`` calls ``onnx_ensure`` once the weights are installed and verified: the
full ResNet50 (with the preprocessing in front) is converted by tf2onnx into one graph with
two outputs (``embedding``: the global-max-pooled features; ``probabilities``: the
classifier used for verification), then both engines embed and classify a fixed set of
images. The export is installed only if every embedding's cosine with TensorFlow's is at
least MIN_COSINE and every image keeps its top-1 class; otherwise it is refused (the file is
deleted, the manifest says why) and inference stays on TensorFlow. Serving
(``visualsearch.ml.engines``) never imports this module.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from visualsearch.ml import embedder
from visualsearch.ml.engines.base import Engine
from visualsearch.ml.engines.onnx import EMBEDDING_OUTPUT, INPUT_NAME, PROBABILITIES_OUTPUT, OnnxEngine
from visualsearch.ml.engines.tensorflow import TensorFlowEngine, keras_module, load_full_model
from visualsearch.ml.onnx_files import (
    OnnxManifest,
    manifest_read,
    manifest_write,
    onnx_path,
    weights_fingerprint,
)
from visualsearch.ml.preprocessing import to_model_input

# Every image's embedding must point the same way in both engines (cosine >= this).
MIN_COSINE = 0.9999
OPSET = 17
# scikit-image's bundled photos (no download), then seeded noise and flat images.
REFERENCE_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "horse", "camera", "colorwheel", "logo")
NOISE_IMAGES = 4

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ExportCheck:
    """The comparison of a candidate export with the reference on the fixed images."""

    min_cosine: float
    top1_agree: bool

    @property
    def passed(self) -> bool:
        return self.min_cosine >= MIN_COSINE and self.top1_agree

    @property
    def reason(self) -> str:
        if self.min_cosine < MIN_COSINE:
            return f"min cosine with TensorFlow {self.min_cosine:.6f} < {MIN_COSINE}"
        if not self.top1_agree:
            return "the exported classifier disagrees with TensorFlow's top-1 class"
        return ""


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def reference_images() -> np.ndarray:
    """The fixed images both engines must agree on: (N, 224, 224, 3) uint8."""
    import skimage.data
    from PIL import Image

    arrays = [to_model_input(Image.fromarray(getattr(skimage.data, name)())) for name in REFERENCE_PHOTOS]
    rng = np.random.default_rng(24)
    arrays += [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(NOISE_IMAGES)]
    arrays += [np.full((224, 224, 3), value, np.uint8) for value in (0, 255)]
    return np.stack(arrays)


def onnx_check(candidate: Engine, reference: Engine, images: np.ndarray | None = None) -> ExportCheck:
    """Compare ``candidate``'s embeddings and classes with ``reference``'s on the fixed images."""
    images = reference_images() if images is None else images
    ours = embedder.l2_normalise(candidate.embed(images))
    theirs = embedder.l2_normalise(reference.embed(images))
    cosines = np.sum(ours * theirs, axis=1)
    # An all-zero row (cosine 0 in both) agrees only if both are zero.
    both_zero = (np.abs(ours).sum(axis=1) == 0) & (np.abs(theirs).sum(axis=1) == 0)
    cosines = np.where(both_zero, 1.0, cosines)
    top1 = np.argmax(candidate.classify(images), axis=1) == np.argmax(reference.classify(images), axis=1)
    return ExportCheck(min_cosine=float(cosines.min()), top1_agree=bool(top1.all()))


def export_to_onnx(full: Any, path: Path) -> None:
    """Convert the full Keras model, preprocessing in front, to an ONNX file at ``path``: input
    ``images`` (N, 224, 224, 3) float RGB 0–255, outputs ``embedding`` and ``probabilities``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf2onnx

    from visualsearch.ml.engines.tensorflow import embedding_model

    keras = keras_module()
    pooled = embedding_model(full)
    spec = tf.TensorSpec((None, 224, 224, 3), tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def forward(images: Any) -> tuple[Any, Any]:
        inputs = keras.applications.resnet50.preprocess_input(images)
        return pooled(inputs, training=False), full(inputs, training=False)

    model_proto, _ = tf2onnx.convert.from_function(forward, input_signature=[spec], opset=OPSET)
    # The outputs come in the function's order; give them the engine's names.
    renames = {
        output.name: name
        for output, name in zip(model_proto.graph.output, (EMBEDDING_OUTPUT, PROBABILITIES_OUTPUT), strict=True)
    }
    for node in model_proto.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
    for output in model_proto.graph.output:
        output.name = renames[output.name]
    path.write_bytes(model_proto.SerializeToString())


def onnx_install(candidate_path: Path, reference: Engine, weights_path: Path, seconds: float = 0.0) -> OnnxManifest:
    """Check a candidate export against ``reference`` and install it if it passes; either way
    write the manifest. A refused candidate is deleted."""
    size, mtime_ns = weights_fingerprint(weights_path)
    versions = {"tf2onnx": _package_version("tf2onnx"), "onnxruntime": _package_version("onnxruntime")}
    try:
        check = onnx_check(OnnxEngine(candidate_path), reference)
        if check.passed:
            candidate_path.chmod(0o644)  # mkstemp made it private; the workers may run as another user
            os.replace(candidate_path, onnx_path())
        manifest = OnnxManifest(
            check.passed,
            check.min_cosine,
            check.reason,
            embedder.MODEL_VERSION,
            size,
            mtime_ns,
            seconds=seconds,
            **versions,
        )
    finally:
        candidate_path.unlink(missing_ok=True)
    if not manifest.passed:
        onnx_path().unlink(missing_ok=True)
    manifest_write(manifest)
    return manifest


def _refused(reason: str, weights_path: Path) -> OnnxManifest:
    size, mtime_ns = weights_fingerprint(weights_path)
    onnx_path().unlink(missing_ok=True)
    manifest = OnnxManifest(False, None, reason, embedder.MODEL_VERSION, size, mtime_ns)
    manifest_write(manifest)
    return manifest


def onnx_export(weights_path: Path, progress: Progress | None = None) -> OnnxManifest:
    """Export the weights at ``weights_path`` to ONNX, check and install (or refuse) it."""
    started = time.monotonic()
    _say(progress, "Exporting the model to ONNX (tf2onnx) for ONNX Runtime...")
    full = load_full_model(weights_path)
    onnx_path().parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=onnx_path().parent, prefix=".resnet50-gmp-", suffix=".onnx")
    os.close(handle)
    candidate = Path(name)
    try:
        export_to_onnx(full, candidate)
    except Exception as exc:  # tf2onnx missing or failing: TensorFlow still serves
        candidate.unlink(missing_ok=True)
        return _refused(f"the export failed ({type(exc).__name__}: {exc})", weights_path)
    _say(progress, f"Checking the ONNX export against TensorFlow on {len(reference_images())} fixed images...")
    return onnx_install(candidate, TensorFlowEngine(full), weights_path, seconds=time.monotonic() - started)


def onnx_current(weights_path: Path) -> bool:
    """Whether the manifest is about these weights (passed or refused): nothing to redo."""
    manifest = manifest_read()
    if manifest is None:
        return False
    fresh = (manifest.weights_size, manifest.weights_mtime_ns) == weights_fingerprint(weights_path)
    return fresh and (not manifest.passed or onnx_path().is_file())


def onnx_ensure(weights_path: Path, force: bool = False, progress: Progress | None = None) -> OnnxManifest | None:
    """Export unless an export (or refusal) of these weights is already recorded; say the outcome.
    Returns the new manifest, or None when nothing was redone."""
    if not force and onnx_current(weights_path):
        manifest = manifest_read()
        if manifest is not None:
            _say(progress, describe(manifest))
        return None
    manifest = onnx_export(weights_path, progress)
    _say(progress, describe(manifest))
    return manifest


def describe(manifest: OnnxManifest) -> str:
    """One line on an export: where it is and its cosine, or why it was refused."""
    if manifest.passed:
        return (
            f"ONNX export at {onnx_path()}: min cosine with TensorFlow {manifest.min_cosine:.6f} "
            f"(>= {MIN_COSINE}); inference uses ONNX Runtime (VISUALSEARCH_ENGINE=auto)."
        )
    return f"ONNX export refused ({manifest.reason}): inference stays on TensorFlow."
