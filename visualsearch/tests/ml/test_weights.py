"""Finding the ResNet50 weights, the settings that say where, and importing the model package
without TensorFlow or Django. Fetching and installing them is tested in
test_weights_install.py, the embedder in test_embedder.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from visualsearch.ml import settings as ml_settings
from visualsearch.ml import weights

ROOT = Path(__file__).resolve().parents[3]  # the repository


# --- Finding the weights ----------------------------------------------------------------


def test_missing_explicit_weights_path_names_fetch_weights(settings, tmp_path: Path) -> None:
    missing = tmp_path / "nope.weights.h5"
    settings.VISUALSEARCH_WEIGHTS = str(missing)
    with pytest.raises(weights.WeightsNotFound, match="fetch_weights") as caught:
        weights.resolve_weights_path()
    assert str(missing) in str(caught.value)
    assert "VISUALSEARCH_WEIGHTS" in str(caught.value)


def test_missing_default_weights_names_fetch_weights(settings, tmp_path: Path) -> None:
    settings.VISUALSEARCH_WEIGHTS = ""
    settings.VISUALSEARCH_MODEL_DIR = tmp_path
    with pytest.raises(weights.WeightsNotFound, match="fetch_weights"):
        weights.resolve_weights_path()


def test_django_settings_reach_the_model_settings(settings, tmp_path: Path) -> None:
    """visualsearch.ml has no Django: the app configures it, and again when a setting changes."""
    settings.VISUALSEARCH_WEIGHTS = str(tmp_path / "w.weights.h5")
    settings.VISUALSEARCH_MODEL_DIR = str(tmp_path)
    settings.VISUALSEARCH_BATCH_SIZE = 2
    assert ml_settings.current() == ml_settings.ModelSettings(
        weights=tmp_path / "w.weights.h5", model_dir=tmp_path, batch_size=2
    )
    settings.VISUALSEARCH_WEIGHTS = ""
    assert ml_settings.current().weights is None


def test_resolve_order_explicit_then_model_dir(settings, tmp_path: Path) -> None:
    settings.VISUALSEARCH_MODEL_DIR = tmp_path
    installed = tmp_path / weights.WEIGHTS_FILENAME
    installed.write_bytes(b"x")
    settings.VISUALSEARCH_WEIGHTS = ""
    assert weights.resolve_weights_path() == installed
    explicit = tmp_path / "other.weights.h5"
    explicit.write_bytes(b"y")
    settings.VISUALSEARCH_WEIGHTS = str(explicit)
    assert weights.resolve_weights_path() == explicit


# --- No TensorFlow on import ------------------------------------------------------------------


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_importing_does_not_import_tensorflow() -> None:
    code = (
        "import sys, django; django.setup(); "
        "import visualsearch.ml.embedder, visualsearch.ml.weights, visualsearch.ml.weights_install, "
        "visualsearch.ml.onnx_export, visualsearch.ml.engines.onnx, visualsearch.ml.engines.tensorflow; "
        "loaded = [m for m in ('tensorflow', 'keras', 'tf2onnx', 'onnxruntime', 'onnx') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_ml_imports_without_django() -> None:
    """visualsearch.ml stands alone: importing it loads neither Django nor the app's settings."""
    code = (
        "import sys; "
        "import visualsearch.ml.embedder, visualsearch.ml.weights, visualsearch.ml.weights_install, "
        "visualsearch.ml.preprocessing; "
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "assert not loaded, loaded; "
        "assert 'visualsearch.conf' not in sys.modules, 'visualsearch.conf imported'"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
