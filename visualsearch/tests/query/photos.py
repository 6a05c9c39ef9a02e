"""Photos and a stand-in model for the photo-search tests: a catalogue photo on a noisy or a
plain canvas (with the box it sits in), a plain gradient, and ``fake_embedding``."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from visualsearch.ml.preprocessing import decode_for_model, to_model_input
from visualsearch.query.photo import Box


def fake_embedding(pixels: np.ndarray) -> np.ndarray:
    """A stand-in for the model: the 224×224 input averaged in 14×14 blocks, centred, unit norm
    (several inputs: one row each)."""
    if pixels.ndim == 4:
        return np.stack([fake_embedding(p) for p in pixels])
    blocks = pixels.astype(np.float32).reshape(16, 14, 16, 14, 3).mean(axis=(1, 3)).ravel()
    vector = np.zeros(2048, np.float32)
    vector[: blocks.size] = blocks - blocks.mean()
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def fake_vector_of(photo: bytes) -> bytes:
    return fake_embedding(to_model_input(decode_for_model(photo))).astype("<f4").tobytes()


def jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def on_texture(photo: bytes, seed: int = 0) -> tuple[bytes, tuple[float, float, float, float]]:
    """The photo placed at a random spot of a noisy, colourful canvas 3× its size, and its box."""
    rng = np.random.default_rng(seed)
    product = Image.open(io.BytesIO(photo)).convert("RGB")
    canvas = Image.fromarray(rng.integers(0, 256, (product.height * 3, product.width * 3, 3), dtype=np.uint8))
    x0, y0 = product.width, product.height // 2
    canvas.paste(product, (x0, y0))
    w, h = canvas.size
    return jpeg(canvas), (x0 / w, y0 / h, (x0 + product.width) / w, (y0 + product.height) / h)


def on_plain(photo: bytes, colour: tuple[int, int, int] = (90, 120, 160)) -> tuple[bytes, tuple[float, ...]]:
    product = Image.open(io.BytesIO(photo)).convert("RGB")
    canvas = Image.new("RGB", (product.width * 4, product.height * 3), colour)
    x0, y0 = product.width * 2, product.height
    canvas.paste(product, (x0, y0))
    w, h = canvas.size
    return jpeg(canvas, 95), (x0 / w, y0 / h, (x0 + product.width) / w, (y0 + product.height) / h)


def gradient() -> bytes:
    t = np.linspace(0, 1, 400, dtype=np.float32)[:, None, None]
    array = np.broadcast_to(np.array([40, 60, 200]) * (1 - t) + np.array([250, 200, 40]) * t, (400, 300, 3))
    return jpeg(Image.fromarray(array.astype(np.uint8)))


def box_field(box: Box | tuple[float, ...]) -> str:
    """A box as the ``box`` field sends it (four decimals)."""
    return ",".join(f"{v:.4f}".rstrip("0").rstrip(".") or "0" for v in box)
