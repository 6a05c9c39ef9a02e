"""Where the ResNet50 ImageNet weights are: the file the embedder loads.

``VISUALSEARCH_WEIGHTS`` names a file explicitly; otherwise it is ``resnet50_imagenet.weights.h5``
in the model dir (``VISUALSEARCH_MODEL_DIR``), where ``fetch_weights`` installs it
(``visualsearch.ml.weights_install``). No TensorFlow and no Django here: the settings come from
``visualsearch.ml.settings``.
"""

from __future__ import annotations

from pathlib import Path

from visualsearch.ml.settings import current as current_settings

WEIGHTS_FILENAME = "resnet50_imagenet.weights.h5"


class WeightsNotFound(RuntimeError):
    """No weights file: the message says how to get one."""


HOW_TO_GET_WEIGHTS = (
    "run `python manage.py fetch_weights` (downloads, converts and verifies them into "
    "VISUALSEARCH_MODEL_DIR), or set VISUALSEARCH_WEIGHTS to the path of an existing "
    f"{WEIGHTS_FILENAME} file"
)


def model_dir() -> Path:
    """The model dir of the current settings (the Django setting VISUALSEARCH_MODEL_DIR)."""
    return current_settings().model_dir


def default_weights_path() -> Path:
    """Where fetch_weights installs the weights: <VISUALSEARCH_MODEL_DIR>/resnet50_imagenet.weights.h5."""
    return model_dir() / WEIGHTS_FILENAME


def resolve_weights_path() -> Path:
    """The weights file to load: the explicit one (VISUALSEARCH_WEIGHTS) if set, else the
    model dir's file.

    Raises WeightsNotFound, naming the path looked at and what to do, when there is none.
    """
    path = current_settings().weights
    if path is not None:
        if not path.is_file():
            raise WeightsNotFound(
                f"VISUALSEARCH_WEIGHTS is set to {path}, but that file does not exist. "
                f"Fix the path, or unset it and {HOW_TO_GET_WEIGHTS}."
            )
        return path
    path = default_weights_path()
    if path.is_file():
        return path
    raise WeightsNotFound(f"The ResNet50 weights file {path} does not exist. To get it, {HOW_TO_GET_WEIGHTS}.")
