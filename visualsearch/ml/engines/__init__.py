"""Inference engines: one interface (``base.Engine``), two implementations.

``tensorflow`` is the reference (Keras; it loads and verifies the weights and exports them);
``onnx`` runs the ONNX export of the same weights with ONNX Runtime, used only when that
export passed its check against TensorFlow (``visualsearch.ml.onnx_export``). Which one a
process uses is ``choose_engine`` below, from the ``engine`` setting; each engine module
imports its runtime lazily, so a process loads only the engine it uses.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from visualsearch.ml.onnx_files import onnx_status
from visualsearch.ml.settings import ENGINES, ModelSettings


@dataclass(frozen=True)
class EngineChoice:
    """The engine a process will use (``name``: "onnx" or "tensorflow") and why (``reason``);
    ``fallback``: the setting asked for ONNX (``"onnx"`` or ``"auto"``) and cannot have it."""

    name: str
    reason: str
    fallback: bool = False


def onnxruntime_installed() -> bool:
    """Whether ONNX Runtime can be imported (without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def choose_engine(settings: ModelSettings, *, installed_weights: bool = True) -> EngineChoice:
    """The engine for ``settings.engine``: "tensorflow" always TensorFlow; "auto" and "onnx"
    ONNX Runtime when the export of the installed weights passed its check, else TensorFlow
    with the reason (``installed_weights``: False for other weights, e.g. the tests' random ones,
    which have no export)."""
    assert settings.engine in ENGINES
    if settings.engine == "tensorflow":
        return EngineChoice("tensorflow", "VISUALSEARCH_ENGINE is 'tensorflow'")
    if not installed_weights:
        return EngineChoice("tensorflow", "the model's weights are not the installed ones (no ONNX export)", True)
    if not onnxruntime_installed():
        return EngineChoice("tensorflow", "onnxruntime is not installed (pip install -r requirements.txt)", True)
    usable, reason = onnx_status()
    if not usable:
        return EngineChoice("tensorflow", reason, True)
    return EngineChoice("onnx", reason)
