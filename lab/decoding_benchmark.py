"""What decoding hostile-but-valid images costs: each file is decoded the way one of the
system's paths decodes it (``PATHS``: photo search's upload, staff's admin upload / import /
thumbnail, the embedding worker's catalogue photo), in a fresh process, and the growth of that
process's peak memory (VmHWM) is the figure. Small files that decode to huge pictures are the
attack."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

TARGET_MB = 100.0  # photo search (a stranger's upload)
STAFF_TARGET_MB = 150.0  # every other path (staff's files, the catalogue's photos)
# The decoding paths: photo search's upload; the admin upload and the import (validation,
# then the thumbnail, as shop.thumbnails does); the embedding worker (the model's input).
PATHS = ("photo-search", "staff", "embedding")


@dataclass(frozen=True)
class DecodeCase:
    name: str
    make: Callable[[], bytes]


@dataclass(frozen=True)
class DecodeFigure:
    name: str
    file_bytes: int
    pixels: int
    outcome: str  # "decoded WxH" or the rejection message
    added_mb: float


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise_rgb(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), "RGB")


def default_cases(scale: float = 1.0) -> list[DecodeCase]:
    """The issue's files (scale < 1 makes small versions of them, for tests)."""

    def px(n: int) -> int:
        return max(8, int(n * scale))

    return [
        DecodeCase("7071x7071 RGBA PNG", lambda: _save(Image.new("RGBA", (px(7071), px(7071)), (9, 9, 9, 0)), "PNG")),
        DecodeCase("4000x4000 RGBA PNG", lambda: _save(Image.new("RGBA", (px(4000), px(4000)), (9, 9, 9, 0)), "PNG")),
        DecodeCase("3000x3000 RGBA PNG", lambda: _save(Image.new("RGBA", (px(3000), px(3000)), (9, 9, 9, 0)), "PNG")),
        DecodeCase("16-bit grey PNG 3000x3000", lambda: _save(Image.new("I;16", (px(3000), px(3000)), 40000), "PNG")),
        DecodeCase("16-bit grey PNG 7000x7000", lambda: _save(Image.new("I;16", (px(7000), px(7000)), 40000), "PNG")),
        DecodeCase(
            "float TIFF 3000x3000",
            lambda: _save(Image.new("F", (px(3000), px(3000)), 3.5), "TIFF", compression="tiff_lzw"),
        ),
        DecodeCase(
            "lossless WebP 16383x3051", lambda: _save(Image.new("RGB", (px(16383), px(3051))), "WEBP", lossless=True)
        ),
        # Just under the staff limit (8 MP): the most a full-size format may cost there.
        DecodeCase(
            "lossless WebP 3200x2480", lambda: _save(Image.new("RGB", (px(3200), px(2480))), "WEBP", lossless=True)
        ),
        DecodeCase("12-MP phone JPEG 4000x3000", lambda: _save(_noise_rgb(px(4000), px(3000)), "JPEG", quality=90)),
    ]


_CHILD = r"""
import json, sys
from pathlib import Path

def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

from core.images import ImageRejected, configure, open_image, to_rgb
from shop.thumbnails import THUMBNAIL_BOX, THUMBNAIL_DRAFT_SIZE
from visualsearch.ml.preprocessing import DECODE_BOX, bytes_to_model_input

configure(max_pixels=int(sys.argv[2]))
limit, path = int(sys.argv[3]), sys.argv[4]
data = Path(sys.argv[1]).read_bytes()
before = hwm_kb()
try:
    if path == "photo-search":  # visualsearch.query.photo
        image = to_rgb(open_image(data, draft_size=DECODE_BOX, max_decoded_pixels=limit), box=DECODE_BOX)
        image = image.resize((224, 224))
    elif path == "staff":  # shop.thumbnails: image_validate, then thumbnail_create
        opened = open_image(data, draft_size=THUMBNAIL_DRAFT_SIZE, max_decoded_pixels=limit)
        image = to_rgb(opened, box=THUMBNAIL_DRAFT_SIZE)
        image.thumbnail(THUMBNAIL_BOX)
    else:  # the embedding worker: visualsearch.services.embeddings
        pixels = bytes_to_model_input(data, max_decoded_pixels=limit)
        image = type("Shape", (), {"width": pixels.shape[1], "height": pixels.shape[0]})
    outcome = f"decoded to {image.width}x{image.height}"
except ImageRejected as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"outcome": outcome, "added_kb": hwm_kb() - before}))
"""


def decode_memory(
    cases: list[DecodeCase],
    *,
    max_pixels: int,
    query_max_pixels: int,
    path: str = "photo-search",
    on_case: Callable[[DecodeFigure], None] | None = None,
) -> list[DecodeFigure]:
    """Decode each case in a fresh Python process along ``path`` (one of PATHS), with
    ``query_max_pixels`` as that path's limit for formats decoded at full size; returns the
    memory each decode added."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}")
    root = Path(__file__).resolve().parent.parent
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as folder:
        for case in cases:
            data = case.make()
            file = Path(folder) / "image"
            file.write_bytes(data)
            with Image.open(io.BytesIO(data)) as header:
                pixels = header.width * header.height
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, str(file), str(max_pixels), str(query_max_pixels), path],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            row = json.loads(result.stdout.strip().splitlines()[-1])
            figure = DecodeFigure(case.name, len(data), pixels, row["outcome"], row["added_kb"] / 1024)
            figures.append(figure)
            if on_case is not None:
                on_case(figure)
    return figures
