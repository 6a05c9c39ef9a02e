"""Image decoding and validation, shared by the catalogue (staff uploads, the import,
thumbnails) and visual search (catalogue photos and shopper uploads).

Pillow and numpy only, no Django: the limit on pixels is set once at start-up
(``configure``, called by the core app), never per call.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
# Large JPEGs are decoded at a reduced scale (``draft``) when the caller needs no more.
_DEFAULT_MAX_PIXELS = 50_000_000
_max_pixels = _DEFAULT_MAX_PIXELS


class ImageRejected(ValueError):
    """The bytes are not an image we can use; ``str(exc)`` is a message for a person."""


def configure(*, max_pixels: int) -> None:
    """Set the pixel limit once for the process (ours, and Pillow's as a backstop)."""
    global _max_pixels
    _max_pixels = int(max_pixels)
    Image.MAX_IMAGE_PIXELS = _max_pixels


def max_pixels() -> int:
    return _max_pixels


def open_image(source: bytes | BinaryIO, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image fully, or raise ImageRejected saying why it cannot be used.

    Checks the real content, not the file name: empty files, non-images, images whose
    pixel count exceeds the limit (decompression bombs, refused from the header before any
    pixel is decoded), truncated or corrupt data. Animated images give their first frame.
    ``draft_size``: a JPEG may be decoded at a reduced scale down to about this size.
    """
    data = source if isinstance(source, bytes) else source.read()
    if not data:
        raise ImageRejected("The file is empty.")
    limit = _max_pixels
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ACCEPTED_FORMATS:
            raise ImageRejected(f"{image.format or 'This'} files are not supported: upload a JPEG, PNG or WebP photo.")
        width, height = image.size
        if width * height > limit:
            raise ImageRejected(
                f"The image is too large ({width}×{height} pixels); the limit is {limit // 1_000_000} megapixels."
            )
        if width < 1 or height < 1:
            raise ImageRejected("The image has no pixels.")
        if getattr(image, "is_animated", False):
            image.seek(0)
        if draft_size is not None and image.format in {"JPEG", "MPO"}:
            image.draft("RGB", draft_size)
        image.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, SyntaxError):
        raise ImageRejected("The file is not an image we can read: upload a JPEG, PNG or WebP photo.") from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"The image is too large; the limit is {limit // 1_000_000} megapixels.") from None
    except (OSError, ValueError, EOFError) as exc:
        raise ImageRejected(f"The image is truncated or corrupt ({exc}).") from None
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB: EXIF orientation applied, alpha composited over white, any mode converted.

    Raises ImageRejected when the image's metadata cannot be applied (a corrupt EXIF block)."""
    try:
        image = ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError) as exc:
        raise ImageRejected(f"The image could not be decoded ({exc}).") from None
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
