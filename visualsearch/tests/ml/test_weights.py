"""The ResNet50 weights: finding them, the settings that say where, download checks,
converting layer names, and importing the model package without TensorFlow or Django.
The embedder itself is tested in test_embedder.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from visualsearch.ml import embedder, weights
from visualsearch.ml import settings as ml_settings

ROOT = Path(__file__).resolve().parents[3]  # the repository


# --- Checking predictions ---------------------------------------------------------------


def test_check_predictions_refuses_wrong_classes() -> None:
    uniform = np.full((2, 1000), 1e-3, np.float32)
    with pytest.raises(weights.WeightsVerificationFailed, match="Egyptian_cat"):
        weights.check_predictions(uniform)


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


# --- Download checks ------------------------------------------------------------------------


def test_wrong_sha256_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / weights.TARBALL_NAME
    fake.write_bytes(b"not the weights package")
    with pytest.raises(weights.ChecksumMismatch, match="sha256"):
        weights.check_sha256(fake)
    weights.check_sha256(fake, expected=weights.sha256_of(fake))


def test_cached_tarball_with_wrong_sha256_is_not_reused(tmp_path: Path) -> None:
    fake = tmp_path / weights.TARBALL_NAME
    fake.write_bytes(b"tampered")
    assert weights._valid_cached_tarball(fake) is False
    assert not fake.exists()


def _add(archive: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    archive.addfile(info, io.BytesIO(data) if data else None)


def test_extraction_takes_only_the_model_files(tmp_path: Path) -> None:
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        _add(archive, "package/ResNet50/model.json", b"{}")
        _add(archive, "package/ResNet50/group1-shard1of25.bin", b"\0" * 8)
        _add(archive, "package/ResNet50/../../escaped.bin", b"bad")
        _add(archive, "/tmp/absolute.bin", b"bad")
        _add(archive, "package/lib/index.js", b"bad")
    out = weights.extract_tfjs_files(tarball, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["group1-shard1of25.bin", "model.json"]
    assert not (tmp_path / "escaped.bin").exists()


def test_extraction_refuses_a_linked_shard(tmp_path: Path) -> None:
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        _add(archive, "package/ResNet50/model.json", b"{}")
        _add(archive, "package/ResNet50/group1-shard2of25.bin", kind=tarfile.SYMTYPE)
    with pytest.raises(weights.WeightsFetchFailed, match="regular file"):
        weights.extract_tfjs_files(tarball, tmp_path / "out")


def test_failed_verification_deletes_the_temp_file(settings, tmp_path: Path, monkeypatch) -> None:
    settings.VISUALSEARCH_MODEL_DIR = tmp_path
    temp = tmp_path / ".resnet50-x.weights.h5"
    temp.write_bytes(b"bad weights")

    def refuse(path: Path) -> weights.Verification:
        raise weights.WeightsVerificationFailed("Wrong weights")

    monkeypatch.setattr(weights, "verify_weights", refuse)
    with pytest.raises(weights.WeightsVerificationFailed):
        weights._verify_and_install(temp, progress=None)
    assert list(tmp_path.iterdir()) == []


def test_without_npm_a_failed_keras_download_says_what_to_do(settings, tmp_path: Path, monkeypatch) -> None:
    settings.VISUALSEARCH_MODEL_DIR = tmp_path

    def offline() -> None:
        raise OSError("no network")

    monkeypatch.setattr(weights.shutil, "which", lambda name: None)
    monkeypatch.setattr(embedder, "build_keras_imagenet_full_model", offline)
    with pytest.raises(weights.WeightsFetchFailed, match="Install npm"):
        weights.fetch_weights()
    assert list(tmp_path.iterdir()) == []


# --- Conversion naming --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keras2", "keras3"),
    [
        ("conv1", "conv1_conv"),
        ("bn_conv1", "conv1_bn"),
        ("fc1000", "predictions"),
        ("res2a_branch1", "conv2_block1_0_conv"),
        ("bn2a_branch1", "conv2_block1_0_bn"),
        ("res3d_branch2b", "conv3_block4_2_conv"),
        ("res4f_branch2c", "conv4_block6_3_conv"),
        ("bn5c_branch2a", "conv5_block3_1_bn"),
    ],
)
def test_keras3_layer_names(keras2: str, keras3: str) -> None:
    assert weights.keras3_layer_name(keras2) == keras3


def test_unknown_layer_name_is_refused() -> None:
    with pytest.raises(weights.WeightsFetchFailed):
        weights.keras3_layer_name("res6a_branch2a")


# --- No TensorFlow on import ------------------------------------------------------------------


def test_importing_does_not_import_tensorflow() -> None:
    code = (
        "import sys, django; django.setup(); "
        "import visualsearch.ml.embedder, visualsearch.ml.weights; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
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
        "import visualsearch.ml.embedder, visualsearch.ml.weights, visualsearch.ml.preprocessing; "
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "assert not loaded, loaded; "
        "assert 'visualsearch.conf' not in sys.modules, 'visualsearch.conf imported'"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
