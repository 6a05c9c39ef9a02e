"""JPEGs with hand-made EXIF blocks: orientation tags and malformed ones (a tag stored with
the wrong type makes Pillow's ``exif_transpose`` raise TypeError)."""

from __future__ import annotations

import io
import struct

from PIL import Image

ORIENTATION = 0x0112
X_RESOLUTION = 0x011A
ASCII, SHORT = 2, 3


def exif_block(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian EXIF block with one IFD of (tag, type, count, value bytes) entries."""
    header = b"II*\x00" + struct.pack("<I", 8)
    ifd = struct.pack("<H", len(entries))
    data = b""
    base = 8 + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHI", tag, kind, count) + struct.pack("<I", base + len(data))
            data += value
    return b"Exif\x00\x00" + header + ifd + struct.pack("<I", 0) + data


def orientation_entry(value: int) -> tuple[int, int, int, bytes]:
    return (ORIENTATION, SHORT, 1, struct.pack("<H", value))


WRONG_TYPE_RESOLUTION = (X_RESOLUTION, ASCII, 8, b"notrat\x00\x00")


def jpeg_with_exif(image: Image.Image, entries: list[tuple[int, int, int, bytes]]) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=92, exif=exif_block(entries))
    return buffer.getvalue()


def malformed_exif_jpeg(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """Rotated sideways (orientation 6) with an X resolution stored as text, not a rational."""
    return jpeg_with_exif(Image.new("RGB", size, colour), [orientation_entry(6), WRONG_TYPE_RESOLUTION])
