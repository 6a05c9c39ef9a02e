"""Image decoding and the model's input preprocessing, shared by catalogue and query images.

Pillow and numpy only: the web process validates and prepares photos without TensorFlow.
Every image the model sees, catalogue photo or shopper upload, goes through
``open_image`` then ``to_model_input``: one preprocessing for both sides of the search.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

MODEL_INPUT_SIZE = (224, 224)
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}


class ImageRejected(ValueError):
    """The bytes are not an image we can use; ``str(exc)`` is a message for a person."""


def _max_pixels() -> int:
    return int(getattr(settings, "MAX_IMAGE_PIXELS", 50_000_000))


def open_image(source: bytes | BinaryIO) -> Image.Image:
    """Decode an image fully, or raise ImageRejected saying why it cannot be used.

    Checks the real content, not the file name: empty files, non-images, images whose
    pixel count exceeds MAX_IMAGE_PIXELS (decompression bombs, refused from the header
    before any pixel is decoded), truncated or corrupt data. Animated images give their
    first frame.
    """
    data = source if isinstance(source, bytes) else source.read()
    if not data:
        raise ImageRejected("The file is empty.")
    max_pixels = _max_pixels()
    previous_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Our own check below is the limit; Pillow's stays as a backstop.
        Image.MAX_IMAGE_PIXELS = max_pixels
        image = Image.open(io.BytesIO(data))
        if image.format not in ACCEPTED_FORMATS:
            raise ImageRejected(f"{image.format or 'This'} files are not supported: upload a JPEG, PNG or WebP photo.")
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                f"The image is too large ({width}×{height} pixels); the limit is {max_pixels // 1_000_000} megapixels."
            )
        if width < 1 or height < 1:
            raise ImageRejected("The image has no pixels.")
        if getattr(image, "is_animated", False):
            image.seek(0)
        if image.format in {"JPEG", "MPO"}:
            # Decode large JPEGs at a reduced scale: the model only needs 224×224.
            image.draft("RGB", (MODEL_INPUT_SIZE[0] * 2, MODEL_INPUT_SIZE[1] * 2))
        image.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, SyntaxError):
        raise ImageRejected("The file is not an image we can read: upload a JPEG, PNG or WebP photo.") from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"The image is too large; the limit is {max_pixels // 1_000_000} megapixels.") from None
    except (OSError, ValueError, EOFError) as exc:
        raise ImageRejected(f"The image is truncated or corrupt ({exc}).") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB: EXIF orientation applied, alpha composited over white, any mode converted."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def to_model_input(image: Image.Image) -> np.ndarray:
    """The model's input for one image: uint8 array of shape (224, 224, 3), RGB."""
    rgb = to_rgb(image)
    if rgb.size != MODEL_INPUT_SIZE:
        rgb = rgb.resize(MODEL_INPUT_SIZE, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def bytes_to_model_input(data: bytes) -> np.ndarray:
    """open_image + to_model_input; raises ImageRejected for unusable bytes."""
    return to_model_input(open_image(data))
