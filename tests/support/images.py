"""Image files made by the tests: plain product photos, unusual but valid uploads and broken
or hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def image_bytes(
    colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (60, 80), fmt: str = "JPEG", **save: object
) -> bytes:
    """A plain image of one colour with a darker square in it (so it is not flat)."""
    image = Image.new("RGB", size, colour)
    w, h = size
    darker = tuple(max(c - 90, 0) for c in colour)
    image.paste(Image.new("RGB", (max(w // 3, 1), max(h // 3, 1)), darker), (w // 3, h // 3))
    return encoded(image, fmt, **save)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    """The RGB pixels of an image file's bytes."""
    return Image.open(io.BytesIO(data)).convert("RGB")


def bomb_png(width: int = 20_000, height: int = 20_000, *, white: bool = True) -> bytes:
    """A valid 1-bit PNG of width×height white (or black) pixels, written row by row without
    ever holding the pixels: 400 megapixels in about 50 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + (b"\xff" if white else b"\x00") * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_jpeg(image: Image.Image, size: tuple[int, int] | None = None, quality: int = 95) -> bytes:
    """The first half of the image (resized to ``size``) as a JPEG."""
    data = encoded(image if size is None else image.resize(size), "JPEG", quality=quality)
    return data[: len(data) // 2]


def animated_gif(first: Image.Image, second: Image.Image | None = None) -> bytes:
    """Two frames: ``first``, then ``second`` (by default all black)."""
    second = second or Image.new("RGB", first.size, (0, 0, 0))
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def sixteen_bit_png(image: Image.Image) -> bytes:
    """The image in grey at 16 bits per pixel (really 16 bits on disk)."""
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    sixteen = Image.fromarray(grey.astype(np.uint16))
    assert sixteen.mode.startswith("I;16")
    data = encoded(sixteen, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    return data


def exif_rotated_jpeg(upright: Image.Image) -> bytes:
    """Stored sideways with EXIF Orientation 6 (rotate 90° clockwise to view): upright it is
    ``upright``, as a phone writes it."""
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(sideways, "JPEG", quality=95, exif=exif.tobytes())
