"""The model's input: every image the model sees, catalogue photo or shopper upload, goes
through ``core.images.open_image`` then ``to_model_input``: one preprocessing for both
sides of the search. No Django, no TensorFlow."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.images import open_image, to_rgb

MODEL_INPUT_SIZE = (224, 224)
# JPEGs are decoded at a reduced scale (libjpeg's DCT scaling) down to twice the input size.
DECODE_DRAFT_SIZE = (MODEL_INPUT_SIZE[0] * 2, MODEL_INPUT_SIZE[1] * 2)


def to_model_input(image: Image.Image) -> np.ndarray:
    """The model's input for one image: uint8 array of shape (224, 224, 3), RGB."""
    rgb = to_rgb(image)
    if rgb.size != MODEL_INPUT_SIZE:
        rgb = rgb.resize(MODEL_INPUT_SIZE, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def bytes_to_model_input(data: bytes) -> np.ndarray:
    """open_image + to_model_input; raises ImageRejected for unusable bytes."""
    return to_model_input(open_image(data, draft_size=DECODE_DRAFT_SIZE))
