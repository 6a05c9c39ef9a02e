"""Synthetic "shopper photos" of catalogue products, for measuring photo search.

A shopper photographs a product they have seen: the picture is cropped differently, a bit
rotated, on another background, with other light, maybe mirrored, and JPEG-compressed. Each
photo here is a catalogue image with a random mix of those changes, from a fixed generator
seed (``PHOTO_SEED``), so that every evaluation searches the very same photos. They are
made only of held-out (evaluation-split) products; the similarity head never trains on
images at all (it trains on the stored vectors), so no training photo can overlap them.

Pillow and numpy only.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from visualsearch.ml.colour import _srgb_to_lab, foreground_mask

PHOTO_SEED = 20_261_127  # the evaluation's photos; any training augmentation must use another


@dataclass(frozen=True)
class ShopperPhoto:
    product_id: int
    data: bytes  # JPEG
    changes: tuple[str, ...]


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A plain, graded or noisy background (a table, a wall, a bed cover)."""
    w, h = size
    base = rng.integers(0, 256, 3)
    kind = rng.integers(0, 3)
    array: np.ndarray
    if kind == 0:
        array = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == 1:
        other = rng.integers(0, 256, 3)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        array = np.broadcast_to(base * (1 - t) + other * t, (h, w, 3)).astype(np.float32)
    else:
        array = base + rng.normal(0, 25, (h, w, 3))
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def perturb(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, tuple[str, ...]]:
    """One shopper-like copy of a product image, and the changes made."""
    changes: list[str] = []
    img = image.convert("RGB")
    # Shoppers' photos are larger than the 60×80 catalogue thumbnails.
    scale = float(rng.uniform(3.0, 6.0))
    # The product: everything but the catalogue backdrop connected to the image border (a
    # white shirt stays a white shirt), found on the small original.
    product = foreground_mask(_srgb_to_lab(np.asarray(img)))
    mask = Image.fromarray((product * 255).astype(np.uint8), "L")
    size = (round(img.width * scale), round(img.height * scale))
    img = img.resize(size, Image.Resampling.BICUBIC)
    mask = mask.resize(size, Image.Resampling.BILINEAR)
    w, h = img.size
    if rng.random() < 0.7:
        keep = float(rng.uniform(0.75, 0.95))
        cw, ch = round(w * keep), round(h * keep)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = img.crop((x0, y0, x0 + cw, y0 + ch))
        mask = mask.crop((x0, y0, x0 + cw, y0 + ch))
        changes.append("crop")
    if rng.random() < 0.5:
        margin = float(rng.uniform(0.1, 0.35))
        bw, bh = round(img.width * (1 + margin)), round(img.height * (1 + margin))
        canvas = _background(rng, (bw, bh))
        # The catalogue's backdrop becomes the new background around the product.
        x0, y0 = int(rng.integers(0, bw - img.width + 1)), int(rng.integers(0, bh - img.height + 1))
        canvas.paste(img, (x0, y0), mask)
        img = canvas
        changes.append("background")
    if rng.random() < 0.5:
        angle = float(rng.uniform(-15, 15))
        fill = tuple(int(v) for v in np.asarray(img)[0, 0])
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=fill)
        changes.append("rotation")
    if rng.random() < 0.7:
        img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.75, 1.25)))
        img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.8, 1.2)))
        gains = rng.uniform(0.9, 1.1, 3)  # white balance
        shifted = np.asarray(img).astype(np.float32) * gains
        img = Image.fromarray(np.clip(shifted, 0, 255).astype(np.uint8), "RGB")
        changes.append("colour")
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
        changes.append("mirror")
    changes.append("jpeg")
    return img, tuple(changes)


def photo_order(product_ids: list[int] | np.ndarray) -> list[int]:
    """The ids in a fixed pseudo-random order (sha256 of each id): the first ``count`` are
    the photographed products, the same ones however the catalogue grows around them."""
    return sorted((int(p) for p in product_ids), key=lambda p: hashlib.sha256(f"shopper-photo:{p}".encode()).digest())


def shopper_photo(product_id: int, image: bytes, *, seed: int = PHOTO_SEED) -> ShopperPhoto:
    """The one photo of this product (its own generator: ``seed`` and the product id)."""
    rng = np.random.default_rng([seed, int(product_id)])
    with Image.open(io.BytesIO(image)) as source:
        img, changes = perturb(source, rng)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=int(rng.integers(45, 90)))
    return ShopperPhoto(int(product_id), buffer.getvalue(), changes)
