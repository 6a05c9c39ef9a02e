"""Image decoding and validation, shared by the catalogue (staff uploads, the import,
thumbnails) and visual search (catalogue photos and shopper uploads).

Pillow and numpy only, no Django: the limit on pixels is set once at start-up
(``configure``, called by the core app), never per call.

Two rules keep hostile files cheap:

* Nothing is decoded at full size that is not needed at full size. JPEGs are decoded at a
  reduced scale (``draft``) when the caller gives a ``draft_size``; other formats cannot be,
  so callers that only need a small picture (photo search) also give ``max_decoded_pixels``,
  a much lower limit for those formats, checked from the header before any pixel is read.
  ``to_rgb(box=...)`` shrinks first and converts modes after, so 16-bit and float images
  never get full-size float copies.
* Metadata never breaks decoding: the EXIF orientation is read defensively and applied by
  transposing the pixels, without rewriting the metadata (Pillow's ``exif_transpose``
  re-serialises the EXIF block and raises on tags stored with the wrong type). Any error
  Pillow raises while decoding is a rejection with a message, never an exception of
  another kind.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
_DRAFTABLE = {"JPEG", "MPO"}
_DEFAULT_MAX_PIXELS = 50_000_000
_max_pixels = _DEFAULT_MAX_PIXELS
_ORIENTATION_TAG = 0x0112
# EXIF orientation → the transposition that makes the pixels upright (as Pillow's exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_NOT_AN_IMAGE = "The file is not an image we can read: upload a JPEG, PNG or WebP photo."


class ImageRejected(ValueError):
    """The bytes are not an image we can use; ``str(exc)`` is a message for a person."""


def configure(*, max_pixels: int) -> None:
    """Set the pixel limit once for the process (ours, and Pillow's as a backstop)."""
    global _max_pixels
    _max_pixels = int(max_pixels)
    Image.MAX_IMAGE_PIXELS = _max_pixels


def max_pixels() -> int:
    return _max_pixels


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.0f}" if pixels >= 1_000_000 else f"{pixels / 1_000_000:.1f}"


def open_image(
    source: bytes | BinaryIO,
    *,
    draft_size: tuple[int, int] | None = None,
    max_decoded_pixels: int | None = None,
) -> Image.Image:
    """Decode an image, or raise ImageRejected saying why it cannot be used.

    Checks the real content, not the file name: empty files, non-images, images whose
    pixel count exceeds the limit (decompression bombs, refused from the header before any
    pixel is decoded), truncated or corrupt data. Animated images give their first frame.

    ``draft_size``: a JPEG may be decoded at a reduced scale, down to about this size.
    ``max_decoded_pixels``: a lower limit for images that would be decoded at full size
    (every format but JPEG when ``draft_size`` is given).
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
        if width < 1 or height < 1:
            raise ImageRejected("The image has no pixels.")
        if width * height > limit:
            raise ImageRejected(
                f"The image is too large ({width}×{height} pixels); the limit is {_megapixels(limit)} megapixels."
            )
        drafted = draft_size is not None and image.format in _DRAFTABLE
        if max_decoded_pixels is not None and not drafted and width * height > max_decoded_pixels:
            raise ImageRejected(
                f"The image is too large ({width}×{height} pixels); {image.format} images can be at most "
                f"{_megapixels(max_decoded_pixels)} megapixels here (JPEG photos up to {_megapixels(limit)})."
            )
        if getattr(image, "is_animated", False):
            image.seek(0)
        if drafted and draft_size is not None:
            image.draft("RGB", draft_size)
        image.load()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, SyntaxError):
        raise ImageRejected(_NOT_AN_IMAGE) from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"The image is too large; the limit is {_megapixels(limit)} megapixels.") from None
    except MemoryError:
        raise ImageRejected("The image is too large to decode.") from None
    except Exception as exc:  # any decoder error (OSError, struct.error, IndexError, …) is a corrupt file
        raise ImageRejected(f"The image is truncated or corrupt ({_reason(exc)}).") from None
    return image


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8), 1 when absent, malformed or unreadable."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
        orientation = int(value)
    except Exception:  # malformed EXIF of any kind: the pixels are still the picture
        return 1
    return orientation if orientation in _TRANSPOSE else 1


_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}


# Modes Pillow's box reduction handles without a full-size intermediate copy.
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F", "PA"}


def _reduced_16bit(image: Image.Image, factor: int) -> Image.Image:
    """Block means of a 16-bit image as 32-bit integers (Pillow cannot reduce 16-bit modes;
    converting first would make a full-size 32-bit copy)."""
    array = np.asarray(image)
    height, width = array.shape[0] // factor, array.shape[1] // factor
    blocks = array[: height * factor, : width * factor].reshape(height, factor, width, factor)
    return Image.fromarray(blocks.mean(axis=(1, 3), dtype=np.float32).astype(np.int32), "I")


def _shrunk(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """A new image no larger than ``box`` (aspect kept), made before any mode conversion:
    first an integer box reduction (cheap, no full-size copy), then a resize to fit."""
    if image.width <= box[0] and image.height <= box[1]:
        return image
    factor = min(image.width // box[0], image.height // box[1])
    if factor >= 2:
        if image.mode in _SIXTEEN_BIT:
            image = _reduced_16bit(image, factor)
        elif image.mode in _REDUCIBLE:
            image = image.reduce(factor)
    if image.width <= box[0] and image.height <= box[1]:
        return image
    if image.mode in _SIXTEEN_BIT:
        image = image.convert("I")  # small by now: at most twice the box on each side
    scale = min(box[0] / image.width, box[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def to_rgb(image: Image.Image, *, box: tuple[int, int] | None = None) -> Image.Image:
    """Upright RGB: EXIF orientation applied, alpha composited over white, any mode converted.

    ``box``: shrink to fit it first (aspect kept), so conversions run on the small image.
    Raises ImageRejected when the pixels cannot be converted.
    """
    orientation = exif_orientation(image)
    sixteen_bit = image.mode in _SIXTEEN_BIT
    try:
        if box is not None:
            image = _shrunk(image, box)
        if orientation != 1:
            image = image.transpose(_TRANSPOSE[orientation])
            # The transposed copy carries the original metadata: drop it, or converting this
            # (upright) image again would turn it once more.
            for key in ("exif", "xmp", "XML:com.adobe.xmp"):
                image.info.pop(key, None)
        return _rgb_pixels(image, sixteen_bit=sixteen_bit)
    except ImageRejected:
        raise
    except MemoryError:
        raise ImageRejected("The image is too large to decode.") from None
    except Exception as exc:
        raise ImageRejected(f"The image could not be decoded ({_reason(exc)}).") from None


def _rgb_pixels(image: Image.Image, *, sixteen_bit: bool) -> Image.Image:
    if image.mode in _SIXTEEN_BIT or image.mode == "I":
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if sixteen_bit or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array * np.float32(255.0 / peak), 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float32)
        image = Image.fromarray(np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image
