"""The inference engines: which one a process runs (the setting and its fallback, on real
files in a model dir of the test's own), the ONNX export's check against TensorFlow (a
planted difference is refused), and both engines ranking real catalogue photos alike.

The slow tests need the installed weights; their ONNX export is made by ``fetch_weights``
(scripts/test runs it first) or, if missing, by the first of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.support.catalogue import catalogue_photo, catalogue_rows
from visualsearch.ml import embedder, onnx_export, onnx_files, weights
from visualsearch.ml.engines import choose_engine
from visualsearch.ml.engines.onnx import OnnxEngine
from visualsearch.ml.engines.tensorflow import TensorFlowEngine, load_full_model
from visualsearch.ml.preprocessing import bytes_to_model_input
from visualsearch.ml.settings import ModelSettings
from visualsearch.ml.settings import current as ml_current

# --- The setting and the choice (no model) ----------------------------------------------


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, onnx, tensorflow"):
        ModelSettings(engine="fastest")


def test_onnx_threads_do_not_spin_unless_the_setting_says_so(settings) -> None:
    from visualsearch.ml.engines.onnx import session_options

    key = "session.intra_op.allow_spinning"
    assert ml_current().spinning is False
    assert session_options(2, ml_current().spinning).get_session_config_entry(key) == "0"
    settings.VISUALSEARCH_ENGINE_SPINNING = True  # reaches visualsearch.ml like every model setting
    assert ml_current().spinning is True
    assert session_options(2, ml_current().spinning).get_session_config_entry(key) == "1"


@pytest.fixture
def model_dir(settings, tmp_path: Path) -> Path:
    """A model dir of the test's own with a (fake) weights file: the choice reads only files."""
    settings.VISUALSEARCH_MODEL_DIR = tmp_path
    settings.VISUALSEARCH_WEIGHTS = ""
    (tmp_path / weights.WEIGHTS_FILENAME).write_bytes(b"weights")
    return tmp_path


def _record_export(passed: bool, reason: str = "") -> None:
    size, mtime_ns = onnx_files.weights_fingerprint(weights.resolve_weights_path())
    if passed:
        onnx_files.onnx_path().write_bytes(b"onnx")
    onnx_files.manifest_write(
        onnx_files.OnnxManifest(passed, 0.99999 if passed else 0.5, reason, embedder.MODEL_VERSION, size, mtime_ns)
    )


def test_auto_runs_onnx_only_once_its_export_passed(settings, model_dir: Path) -> None:
    choice = choose_engine(ml_current())
    assert (choice.name, choice.fallback) == ("tensorflow", True)
    assert "fetch_weights" in choice.reason
    _record_export(passed=True)
    assert choose_engine(ml_current()).name == "onnx"
    settings.VISUALSEARCH_ENGINE = "tensorflow"
    assert (choose_engine(ml_current()).name, choose_engine(ml_current()).fallback) == ("tensorflow", False)
    settings.VISUALSEARCH_ENGINE = "onnx"
    assert choose_engine(ml_current()).name == "onnx"
    # Other weights (the tests' random ones) have no export.
    assert choose_engine(ml_current(), installed_weights=False).name == "tensorflow"


def test_a_refused_or_stale_export_falls_back_to_tensorflow(settings, model_dir: Path) -> None:
    settings.VISUALSEARCH_ENGINE = "onnx"
    _record_export(passed=False, reason="min cosine with TensorFlow 0.500000 < 0.9999")
    choice = choose_engine(ml_current())
    assert (choice.name, choice.fallback) == ("tensorflow", True)
    assert choice.reason == "the ONNX export was refused: min cosine with TensorFlow 0.500000 < 0.9999"
    _record_export(passed=True)
    assert choose_engine(ml_current()).name == "onnx"
    (model_dir / weights.WEIGHTS_FILENAME).write_bytes(b"other weights")  # reinstalled
    choice = choose_engine(ml_current())
    assert choice.name == "tensorflow" and "other weights" in choice.reason
    _record_export(passed=True)
    onnx_files.onnx_path().unlink()
    assert "missing" in choose_engine(ml_current()).reason


# --- The real export (slow: the real weights) ---------------------------------------------


@pytest.fixture(scope="module")
def installed_export(real_weights: None) -> Path:
    """The installed weights' ONNX export (made now if fetch_weights has not)."""
    path = weights.resolve_weights_path()
    onnx_export.onnx_ensure(path)
    usable, reason = onnx_files.onnx_status()
    assert usable, reason
    return onnx_files.onnx_path()


@pytest.fixture(scope="module")
def reference(real_weights: None) -> TensorFlowEngine:
    return TensorFlowEngine(load_full_model(weights.resolve_weights_path()))


def _planted(source: Path, destination: Path) -> Path:
    """A copy of the export with noise planted in the last convolution's weights."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    initialisers = {init.name: init for init in model.graph.initializer}
    kernel = initialisers[convs[-1].input[1]]
    values = numpy_helper.to_array(kernel)
    noisy = values + np.random.default_rng(0).normal(0, values.std(), values.shape).astype(values.dtype)
    kernel.CopyFrom(numpy_helper.from_array(noisy, kernel.name))
    onnx.save(model, str(destination))
    return destination


@pytest.mark.slow
def test_the_export_is_refused_when_a_planted_difference_breaks_the_check(
    settings, tmp_path: Path, installed_export: Path, reference: TensorFlowEngine
) -> None:
    weights_path = weights.resolve_weights_path()
    settings.VISUALSEARCH_MODEL_DIR = tmp_path / "models"
    settings.VISUALSEARCH_WEIGHTS = str(weights_path)
    candidate = _planted(installed_export, tmp_path / "planted.onnx")

    manifest = onnx_export.onnx_install(candidate, reference, weights_path)

    assert not manifest.passed
    assert manifest.min_cosine is not None and manifest.min_cosine < onnx_export.MIN_COSINE
    assert manifest.reason.startswith("min cosine with TensorFlow")
    assert not candidate.exists() and not onnx_files.onnx_path().exists()
    choice = choose_engine(ml_current())
    assert choice.name == "tensorflow" and "refused" in choice.reason
    assert "refused" in onnx_export.describe(manifest) and "TensorFlow" in onnx_export.describe(manifest)

    # The same check passes the untouched export, which is then installed.
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(installed_export.read_bytes())
    manifest = onnx_export.onnx_install(copy, reference, weights_path)
    assert manifest.passed and manifest.min_cosine >= onnx_export.MIN_COSINE
    assert onnx_files.onnx_path().is_file() and choose_engine(ml_current()).name == "onnx"


@pytest.mark.slow
def test_both_engines_rank_real_catalogue_photos_alike(installed_export: Path, reference: TensorFlowEngine) -> None:
    rows = catalogue_rows(60)
    pixels = np.stack([bytes_to_model_input(catalogue_photo(row)) for row in rows])
    ours = embedder.l2_normalise(OnnxEngine(installed_export).embed(pixels))
    theirs = embedder.l2_normalise(reference.embed(pixels))
    assert np.sum(ours * theirs, axis=1).min() >= onnx_export.MIN_COSINE

    def top5(vectors: np.ndarray, query: int) -> list[int]:
        scores = vectors @ vectors[query]
        scores[query] = -np.inf
        return list(np.argsort(-scores, kind="stable")[:5])

    for query in range(0, 60, 4):  # 15 queries over 20 article types
        assert top5(ours, query) == top5(theirs, query), rows[query]["id"]


@pytest.mark.slow
def test_the_embedder_runs_the_chosen_engine_and_says_why_it_falls_back(
    settings, tmp_path: Path, installed_export: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photos = np.stack([bytes_to_model_input(catalogue_photo(row)) for row in catalogue_rows(4)])
    embedder.reset_model()
    try:
        assert embedder.engine_name() == "onnx"  # auto, with the installed export
        on_onnx = embedder.embed_batch(photos)
        # Asked for ONNX where there is no export: TensorFlow, with a warning saying why.
        settings.VISUALSEARCH_WEIGHTS = str(weights.resolve_weights_path())
        settings.VISUALSEARCH_MODEL_DIR = tmp_path
        settings.VISUALSEARCH_ENGINE = "onnx"
        embedder.reset_model()
        with caplog.at_level(logging.WARNING, logger="visualsearch.ml.embedder"):
            assert embedder.engine_name() == "tensorflow"
        assert "VISUALSEARCH_ENGINE is 'onnx', but inference runs on TensorFlow" in caplog.text
        assert "fetch_weights" in caplog.text
        on_tensorflow = embedder.embed_batch(photos)
        assert np.sum(on_onnx * on_tensorflow, axis=1).min() >= onnx_export.MIN_COSINE
        assert embedder.model_version() == embedder.MODEL_VERSION  # the stored vectors stay valid
    finally:
        embedder.reset_model()
