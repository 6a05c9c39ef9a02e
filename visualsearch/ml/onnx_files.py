"""The ONNX export's files in the model dir and whether the export can be used.

``fetch_weights`` writes ``resnet50_gmp.onnx`` only when it passed its check against
TensorFlow, and always a manifest beside it (``resnet50_gmp.onnx.json``) saying whether it
passed, its minimum cosine, why it was refused, and which weights file (size, modification
time) it was exported from: an export of other weights is not used. No TensorFlow, no ONNX
Runtime and no Django here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from visualsearch.ml.weights import WeightsNotFound, model_dir, resolve_weights_path

ONNX_FILENAME = "resnet50_gmp.onnx"
MANIFEST_FILENAME = ONNX_FILENAME + ".json"
HOW_TO_EXPORT = "run `python manage.py fetch_weights` to export it"


@dataclass(frozen=True)
class OnnxManifest:
    """What an export attempt found: ``passed`` the check (``min_cosine`` over the fixed images,
    ``reason`` when refused), from which weights file (``weights_size``, ``weights_mtime_ns``)."""

    passed: bool
    min_cosine: float | None
    reason: str
    model_version: str
    weights_size: int
    weights_mtime_ns: int
    tf2onnx: str = ""
    onnxruntime: str = ""
    seconds: float = 0.0


def onnx_path() -> Path:
    """Where the export is installed: <model dir>/resnet50_gmp.onnx."""
    return model_dir() / ONNX_FILENAME


def manifest_path() -> Path:
    """The export's manifest: <model dir>/resnet50_gmp.onnx.json."""
    return model_dir() / MANIFEST_FILENAME


def weights_fingerprint(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a weights file: a reinstall changes it."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def manifest_read() -> OnnxManifest | None:
    """The manifest in the model dir, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(manifest_path().read_text())
        return OnnxManifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def manifest_write(manifest: OnnxManifest) -> None:
    """Write the manifest atomically (a temp file renamed into place)."""
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    os.replace(temp, path)


def onnx_status() -> tuple[bool, str]:
    """Whether the installed export can be used in place of TensorFlow, and why (not)."""
    manifest = manifest_read()
    if manifest is None:
        return False, f"no ONNX export of the weights in {model_dir()} ({HOW_TO_EXPORT})"
    if not manifest.passed:
        return False, f"the ONNX export was refused: {manifest.reason}"
    try:
        current = weights_fingerprint(resolve_weights_path())
    except (WeightsNotFound, OSError):
        return False, "no weights file to check the ONNX export against"
    if current != (manifest.weights_size, manifest.weights_mtime_ns):
        return False, f"the ONNX export was made from other weights than the installed ones ({HOW_TO_EXPORT})"
    if not onnx_path().is_file():
        return False, f"{onnx_path()} is missing ({HOW_TO_EXPORT})"
    return True, f"its ONNX export passed the check against TensorFlow (min cosine {manifest.min_cosine:.6f})"
