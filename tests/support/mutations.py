"""Mutated images for fuzz tests: valid photos with random byte flips in their headers and
EXIF, truncations, and EXIF tags stored with the wrong type. Deterministic (seeded)."""

from __future__ import annotations

import io
import random

from PIL import Image

from tests.support.exif import ASCII, SHORT, WRONG_TYPE_RESOLUTION, jpeg_with_exif, orientation_entry


def _base_images(rng: random.Random) -> list[bytes]:
    picture = Image.new("RGB", (96, 128), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    picture.paste((20, 20, 20), (30, 40, 70, 90))
    out = [
        jpeg_with_exif(picture, [orientation_entry(6), (0x010F, ASCII, 6, b"Maker\x00")]),
        jpeg_with_exif(picture, [orientation_entry(3)]),
    ]
    for fmt, options in (("PNG", {}), ("WEBP", {"quality": 80}), ("GIF", {}), ("TIFF", {}), ("BMP", {})):
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt, **options)
        out.append(buffer.getvalue())
    return out


def _wrong_type_exif(rng: random.Random) -> bytes:
    tag = rng.choice([0x011A, 0x011B, 0x0128, 0x0213, 0x0112])
    kind = rng.choice([ASCII, SHORT, 5, 7, 10])
    value = bytes(rng.randrange(256) for _ in range(rng.choice([2, 4, 8])))
    entries = [orientation_entry(rng.randint(1, 8)), (tag, kind, rng.randint(0, 9), value), WRONG_TYPE_RESOLUTION]
    return jpeg_with_exif(Image.new("RGB", (64, 48), (120, 40, 200)), entries)


def mutated_images(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """``count`` (label, bytes) pairs: flips in the first 600 bytes, truncations, wrong-type
    EXIF tags, and a few untouched files, which must keep working."""
    rng = random.Random(seed)
    bases = _base_images(rng)
    out: list[tuple[str, bytes]] = [(f"intact-{i}", data) for i, data in enumerate(bases)]
    while len(out) < count:
        kind = rng.choice(["flip", "flip", "truncate", "exif-type", "exif-flip"])
        data = bytearray(_wrong_type_exif(rng)) if kind.startswith("exif") else bytearray(rng.choice(bases))
        if kind in {"flip", "exif-flip"}:
            for _ in range(rng.randint(1, 8)):
                position = rng.randrange(min(len(data), 600))
                data[position] = rng.randrange(256)
        elif kind == "truncate":
            del data[rng.randrange(8, len(data)) :]
        out.append((f"{kind}-{len(out)}", bytes(data)))
    return out
