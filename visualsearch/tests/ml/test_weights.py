"""The ResNet50 weights (finding, checking, converting names) and the embedder on real weights.

The real weights must be installed (``python manage.py fetch_weights``): without them the
model tests fail with the WeightsNotFound message instead of being skipped.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.support import random_weights
from visualsearch.ml import embedder, weights
from visualsearch.ml import settings as ml_settings

ROOT = Path(__file__).resolve().parent.parent


def _weights_missing_message() -> str:
    """WeightsNotFound's message when the weights are not installed, else ""."""
    try:
        weights.resolve_weights_path()
    except weights.WeightsNotFound as exc:
        return str(exc)
    return ""


@pytest.fixture(scope="module")
def real_model() -> Iterator[None]:
    """The process's cached model loaded once, with the installed real weights."""
    with random_weights.weights_mode(False):
        missing = _weights_missing_message()
        if missing:
            pytest.fail(missing, pytrace=False)
        embedder.warm_up()
        yield
    embedder.reset_model()


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """The cat and espresso photos as model inputs, (2, 224, 224, 3) uint8."""
    return weights.verification_images()


# --- The model on real weights ----------------------------------------------------------


def test_classifies_cat_and_espresso(real_model: None, photos: np.ndarray) -> None:
    probabilities = embedder.classify(photos)
    assert probabilities.shape == (2, 1000)
    assert np.argmax(probabilities, axis=1).tolist() == [285, 967]
    result = weights.check_predictions(probabilities)
    assert result.egyptian_cat > 0.5
    assert result.espresso > 0.9
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_verify_weights_accepts_the_installed_file(real_model: None) -> None:
    result = weights.verify_weights(weights.resolve_weights_path())
    assert result.egyptian_cat > 0.5 and result.espresso > 0.9


def test_check_predictions_refuses_wrong_classes() -> None:
    uniform = np.full((2, 1000), 1e-3, np.float32)
    with pytest.raises(weights.WeightsVerificationFailed, match="Egyptian_cat"):
        weights.check_predictions(uniform)


def test_embeddings_are_unit_float32_rows(real_model: None, photos: np.ndarray) -> None:
    vectors = embedder.embed_batch(photos)
    assert vectors.shape == (2, embedder.EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.99  # a cat is not an espresso


def test_embeddings_are_deterministic(real_model: None, photos: np.ndarray) -> None:
    twice = embedder.embed_batch(np.stack([photos[0], photos[0]]))
    np.testing.assert_array_equal(twice[0], twice[1])
    single = embedder.embed_batch(photos[1:2])
    batch = embedder.embed_batch(photos)
    np.testing.assert_allclose(batch[1], single[0], atol=1e-5)
    np.testing.assert_array_equal(embedder.embed_batch(photos[1:2]), single)


def test_embed_batch_chunks_by_batch_size(real_model: None, photos: np.ndarray, settings) -> None:
    settings.VISUALSEARCH_BATCH_SIZE = 2
    images = np.concatenate([photos, photos[:1]])
    chunked = embedder.embed_batch(images)
    assert chunked.shape == (3, embedder.EMBEDDING_DIM)
    np.testing.assert_allclose(chunked[2], chunked[0], atol=1e-5)


def test_embed_batch_empty_and_wrong_shapes() -> None:
    assert embedder.embed_batch(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 2048)
    with pytest.raises(ValueError, match="224"):
        embedder.embed_batch(np.zeros((224, 224, 3), np.uint8))


def test_l2_normalise_leaves_zero_rows_zero() -> None:
    out = embedder.l2_normalise(np.array([[0.0, 0.0], [3.0, 4.0]], np.float32))
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.6, 0.8]])


def test_concurrent_first_use_loads_the_model_once(real_model: None, photos: np.ndarray, monkeypatch) -> None:
    expected = embedder.embed_batch(photos)
    loads: list[int] = []
    original = embedder._load_models

    def counting_load() -> object:
        loads.append(1)
        return original()

    monkeypatch.setattr(embedder, "_load_models", counting_load)
    embedder.reset_model()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: embedder.embed_batch(photos), range(4)))
    assert len(loads) == 1
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


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


# --- Random weights only on request (these drop the cached model: keep them last) ---------


def test_missing_weights_never_fall_back_to_random(settings, tmp_path: Path) -> None:
    settings.VISUALSEARCH_WEIGHTS = str(tmp_path / "missing.weights.h5")
    with (
        random_weights.weights_mode(False),
        pytest.raises(weights.WeightsNotFound, match="fetch_weights"),
    ):
        embedder.embed_batch(np.zeros((1, 224, 224, 3), np.uint8))


def test_random_weights_only_when_asked(photos: np.ndarray) -> None:
    with random_weights.weights_mode(True):
        assert embedder.model_source() is random_weights.RANDOM_WEIGHTS
        first = embedder.embed_batch(photos)
        assert embedder.model_version() == embedder.MODEL_VERSION + "+random-test"
        embedder.reset_model()  # a reload gives the same seeded weights
        np.testing.assert_allclose(embedder.embed_batch(photos), first, atol=1e-5)
    assert embedder.model_source() is embedder.INSTALLED_WEIGHTS
    assert first.shape == (2, 2048)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
