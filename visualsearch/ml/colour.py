"""The colour descriptor stored with each embedding: a soft Lab histogram of the product,
not of its background.

ResNet50's ImageNet features are nearly colour-blind (a brown kurta's neighbours are kurtas
in navy, black and green); this descriptor gives the search the product's colours:

1. the model input (224×224 RGB, the same pixels the model saw, catalogue photo or shopper
   upload) is averaged down to 56×56 and converted to CIE Lab (D65);
2. the background is the region connected to the image border whose colour is close to
   the border's own colours (flood fill from the border): catalogue photos sit on white or
   light grey, shopper photos on anything;
3. the remaining (foreground) pixels are weighted by a centred Gaussian (the product is in
   the middle; edges carry shadows and clutter); with almost no foreground, all pixels are;
4. each pixel votes into 4 (L) × 7 (a) × 7 (b) = 196 bins with trilinear (soft) weights,
   so that a colour on a bin edge does not flip between bins;
5. the histogram is square-rooted and L2-normalised: the dot product of two descriptors is
   their Bhattacharyya coefficient (1 = the same colour distribution).

numpy only. ``DESCRIPTOR_VERSION`` names the recipe: descriptors of
another version are not compared with these.
"""

from __future__ import annotations

import numpy as np

DESCRIPTOR_VERSION = "lab-fg-4x7x7-v1"
L_BINS, A_BINS, B_BINS = 4, 7, 7
COLOUR_DIM = L_BINS * A_BINS * B_BINS  # 196
_GRID = 56  # the 224×224 input averaged over 4×4 blocks
_L_RANGE = (0.0, 100.0)
_AB_RANGE = (-80.0, 80.0)
# A pixel joins the background when its Lab distance to one of the border's typical
# colours is below this (ΔE76) and it is connected to the border through such pixels.
_BACKGROUND_DELTA_E = 14.0
_MIN_FOREGROUND = 0.04  # below this share of foreground, every pixel counts
_CENTRE_SIGMA = 0.32  # of the image side


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(…, 3) uint8/float sRGB in 0–255 → (…, 3) float32 CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
        dtype=np.float32,
    )
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def _downsample(pixels: np.ndarray) -> np.ndarray:
    """(224, 224, 3) uint8 → (56, 56, 3) float32 block means (other sizes: nearest grid)."""
    h, w = pixels.shape[:2]
    if h % _GRID == 0 and w % _GRID == 0:
        fh, fw = h // _GRID, w // _GRID
        return pixels.reshape(_GRID, fh, _GRID, fw, 3).astype(np.float32).mean(axis=(1, 3))
    rows = (np.arange(_GRID) * h // _GRID).astype(int)
    cols = (np.arange(_GRID) * w // _GRID).astype(int)
    return pixels[rows][:, cols].astype(np.float32)


def _border(mask_shape: tuple[int, int]) -> np.ndarray:
    border = np.zeros(mask_shape, dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    return border


def foreground_mask(lab: np.ndarray) -> np.ndarray:
    """True where a (H, W, 3) Lab image is not border-connected background."""
    border = _border(lab.shape[:2])
    edge = lab[border]  # the border's pixels
    # The border's typical colours: its median, plus the medians of each side (a photo may
    # have a wall on top and a table below).
    sides = [lab[0, :], lab[-1, :], lab[:, 0], lab[:, -1]]
    refs = np.stack([np.median(edge, axis=0), *(np.median(s, axis=0) for s in sides)])
    distance = np.min(np.linalg.norm(lab[:, :, None, :] - refs[None, None, :, :], axis=-1), axis=-1)
    candidate = distance < _BACKGROUND_DELTA_E
    background = candidate & border
    # Flood fill from the border through candidate pixels (4-connected dilation to convergence).
    for _ in range(lab.shape[0] * 2):
        grown = background.copy()
        grown[1:, :] |= background[:-1, :]
        grown[:-1, :] |= background[1:, :]
        grown[:, 1:] |= background[:, :-1]
        grown[:, :-1] |= background[:, 1:]
        grown &= candidate
        if np.array_equal(grown, background):
            break
        background = grown
    return ~background


def _centre_weights(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    y = (np.arange(h, dtype=np.float32) + 0.5) / h - 0.5
    x = (np.arange(w, dtype=np.float32) + 0.5) / w - 0.5
    return np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * _CENTRE_SIGMA**2)).astype(np.float32)


def _soft_votes(values: np.ndarray, low: float, high: float, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation between bin centres: (lower bin, upper bin, upper weight)."""
    position = (np.clip(values, low, high) - low) / (high - low) * bins - 0.5
    position = np.clip(position, 0.0, bins - 1.0)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, bins - 1)
    return lower, upper, (position - lower).astype(np.float32)


def histogram(lab: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Soft (trilinear) 196-bin histogram of Lab pixels (N, 3) with weights (N,), summing to 1."""
    l0, l1, lw = _soft_votes(lab[:, 0], *_L_RANGE, L_BINS)
    a0, a1, aw = _soft_votes(lab[:, 1], *_AB_RANGE, A_BINS)
    b0, b1, bw = _soft_votes(lab[:, 2], *_AB_RANGE, B_BINS)
    index_parts, weight_parts = [], []
    for li, lf in ((l0, 1 - lw), (l1, lw)):
        for ai, af in ((a0, 1 - aw), (a1, aw)):
            for bi, bf in ((b0, 1 - bw), (b1, bw)):
                index_parts.append((li * A_BINS + ai) * B_BINS + bi)
                weight_parts.append(weights * lf * af * bf)
    hist = np.bincount(np.concatenate(index_parts), np.concatenate(weight_parts), minlength=COLOUR_DIM)
    total = hist.sum()
    return (hist / total if total > 0 else hist).astype(np.float32)


def colour_descriptor(pixels: np.ndarray) -> np.ndarray:
    """The descriptor of one model input (H, W, 3) uint8 RGB: float32 (196,), unit L2 norm."""
    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got {array.shape}")
    lab = srgb_to_lab(_downsample(array))
    mask = foreground_mask(lab)
    weights = _centre_weights(mask.shape)
    if mask.mean() >= _MIN_FOREGROUND:
        weights = weights * mask
    hist = histogram(lab.reshape(-1, 3), weights.reshape(-1))
    root = np.sqrt(hist)
    norm = float(np.linalg.norm(root))
    return (root / norm if norm > 0 else root).astype(np.float32)


def to_bytes(descriptor: np.ndarray) -> bytes:
    """Stored form: little-endian float16 (392 bytes)."""
    return np.asarray(descriptor, dtype="<f2").tobytes()


def from_bytes(data: bytes | memoryview | None) -> np.ndarray | None:
    """The stored descriptor as float32, or None for a row stored without one (or of another size)."""
    if data is None:
        return None
    array = np.frombuffer(bytes(data), dtype="<f2")
    if array.shape != (COLOUR_DIM,):
        return None
    return array.astype(np.float32)
