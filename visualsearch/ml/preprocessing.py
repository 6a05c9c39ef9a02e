"""The model's input: every image the model sees, catalogue photo or shopper upload, goes
through ``decode_for_model`` then ``to_model_input``: one preprocessing for both sides of
the search. No Django, no TensorFlow."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.images import open_image, to_rgb

MODEL_INPUT_SIZE = (224, 224)
# Images are decoded (JPEG: at a reduced scale) and shrunk to fit twice the input size
# before any mode conversion: enough for the model, cheap for any file.
DECODE_BOX = (MODEL_INPUT_SIZE[0] * 2, MODEL_INPUT_SIZE[1] * 2)
DECODE_DRAFT_SIZE = DECODE_BOX


def decode_for_model(data: bytes, *, max_decoded_pixels: int | None = None) -> Image.Image:
    """Upright RGB no larger than DECODE_BOX; raises ImageRejected for unusable bytes.
    ``max_decoded_pixels``: the lower limit for formats decoded at full size (shopper photos)."""
    image = open_image(data, draft_size=DECODE_DRAFT_SIZE, max_decoded_pixels=max_decoded_pixels)
    return to_rgb(image, box=DECODE_BOX)


def to_model_input(image: Image.Image) -> np.ndarray:
    """The model's input for one image: uint8 array of shape (224, 224, 3), RGB."""
    rgb = to_rgb(image, box=DECODE_BOX)
    if rgb.size != MODEL_INPUT_SIZE:
        rgb = rgb.resize(MODEL_INPUT_SIZE, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def bytes_to_model_input(data: bytes, *, max_decoded_pixels: int | None = None) -> np.ndarray:
    """decode_for_model + to_model_input; raises ImageRejected for unusable bytes."""
    return to_model_input(decode_for_model(data, max_decoded_pixels=max_decoded_pixels))
