"""The uploaded photo: its size limit, the searched region (the ``box`` field, and the
default box with uniform borders trimmed), decoding it into the model's inputs, its colour
descriptor and the preview the page shows. No database, no index, no model."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import InvalidInput
from core.images import ImageRejected, open_image, to_rgb
from visualsearch.conf import vs_settings
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.preprocessing import DECODE_BOX, MODEL_INPUT_SIZE, decode_for_model, to_model_input
from visualsearch.query.errors import UploadRejected

# A region of the photo, x0,y0,x1,y1 as fractions (0–1) of its upright width and height.
Box = tuple[float, float, float, float]
FULL_BOX: Box = (0.0, 0.0, 1.0, 1.0)
# A box narrower or shorter than this (fraction of the photo) is refused: a few pixels of a
# phone photo say nothing about a product.
MIN_BOX_SIDE = 0.05
_BOX_FORMAT = "box must be four numbers x0,y0,x1,y1 between 0 and 1 (for example 0.1,0.2,0.8,0.9)."
# Decoding for a small region goes up to this many times the model's decode box.
_MAX_REGION_ZOOM = 4.0

# Uniform borders: a line (row or column) belongs to the border while at least BORDER_SHARE
# of its pixels lie within BORDER_TOLERANCE (per channel, 0–255) of the border colour.
BORDER_TOLERANCE = 24
BORDER_SHARE = 0.98
# The default box keeps this much of the trimmed region's size around it (the catalogue's
# photos show a product with some backdrop around it).
BORDER_MARGIN = 0.08
# Trimming that keeps more than this share of the photo's area is not worth changing it.
TRIM_KEEPS_AT_MOST = 0.85
# Borders this light on every side (each channel) are a studio backdrop: not trimmed.
WHITE_BACKDROP = 235


def validate_upload_size(size: int | None) -> None:
    """UploadRejected when the upload is over VISUALSEARCH_MAX_UPLOAD_BYTES."""
    limit = vs_settings.MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise UploadRejected(f"The photo is too large ({size / 1e6:.1f} MB); the limit is {limit / 1e6:.0f} MB.")


def parse_box(raw: object) -> Box | None:
    """The ``box`` field: "x0,y0,x1,y1" in 0–1 coordinates of the upright photo (x0 < x1,
    y0 < y1, each side at least MIN_BOX_SIDE); None when empty. InvalidInput saying what is
    wrong otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    parts = str(raw).split(",")
    if len(parts) != 4:
        raise InvalidInput(_BOX_FORMAT)
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(_BOX_FORMAT) from None
    values = (x0, y0, x1, y1)
    if not all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise InvalidInput("box coordinates must be between 0 and 1 (fractions of the photo's width and height).")
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise InvalidInput(
            f"box must have x0 < x1 and y0 < y1, each side at least {MIN_BOX_SIDE:g} of the photo "
            "(draw a larger box around the item)."
        )
    return values


def parse_item(raw: object) -> int | None:
    """The ``item`` field: which item of the photo to show (0: the most confident); None when
    empty. InvalidInput when it is not a whole number from 0."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidInput("item must be a whole number (0 for the first item found in the photo).") from None
    if value < 0:
        raise InvalidInput("item must be 0 or more (0 for the first item found in the photo).")
    return value


def default_box(rgb: Image.Image) -> Box:
    """The photo with uniform borders trimmed (a product on a plain table, wall or sheet),
    plus a small margin; the whole photo when there is little to trim. The page's crop
    tool (static/js/photo_search.js) starts from the same box."""
    pixels = _thumbnail_pixels(rgb)
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return FULL_BOX

    def uniform(line: np.ndarray, colour: np.ndarray) -> bool:
        return bool(np.mean(np.abs(line - colour).max(axis=-1) <= BORDER_TOLERANCE) >= BORDER_SHARE)

    if _on_studio_white(pixels):
        # A studio-white backdrop, like the catalogue's own photos (a screenshot of a product
        # page): the whole photo matches the catalogue better than a trimmed one.
        return FULL_BOX
    top, bottom, left, right = 0, height, 0, width
    colour = np.median(pixels[0], axis=0)
    while top < height // 2 and uniform(pixels[top], colour):
        top += 1
    colour = np.median(pixels[-1], axis=0)
    while bottom > top + height // 10 and uniform(pixels[bottom - 1], colour):
        bottom -= 1
    colour = np.median(pixels[:, 0], axis=0)
    while left < width // 2 and uniform(pixels[top:bottom, left], colour):
        left += 1
    colour = np.median(pixels[:, -1], axis=0)
    while right > left + width // 10 and uniform(pixels[top:bottom, right - 1], colour):
        right -= 1
    if (bottom - top) < height * MIN_BOX_SIDE * 2 or (right - left) < width * MIN_BOX_SIDE * 2:
        return FULL_BOX  # nothing but border: a plain photo
    mx, my = (right - left) * BORDER_MARGIN, (bottom - top) * BORDER_MARGIN
    box = (
        max(0.0, (left - mx) / width),
        max(0.0, (top - my) / height),
        min(1.0, (right + mx) / width),
        min(1.0, (bottom + my) / height),
    )
    if (box[2] - box[0]) * (box[3] - box[1]) > TRIM_KEEPS_AT_MOST:
        return FULL_BOX
    return (round(box[0], 4), round(box[1], 4), round(box[2], 4), round(box[3], 4))


def _thumbnail_pixels(rgb: Image.Image) -> np.ndarray:
    """The photo at most 128 px a side, as int16 pixels (the borders are judged on it)."""
    small = rgb.copy()
    small.thumbnail((128, 128))
    return np.asarray(small, dtype=np.int16)


def _on_studio_white(pixels: np.ndarray) -> bool:
    """Every side's border line (its median colour) at least WHITE_BACKDROP on each channel."""
    sides = np.stack([np.median(line, axis=0) for line in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1])])
    return bool(sides.min() >= WHITE_BACKDROP)


def studio_backdrop(rgb: Image.Image) -> bool:
    """True when the photo lies on a studio-white backdrop on every side, as the catalogue's
    own photos do (a screenshot of a product page, a product shot)."""
    pixels = _thumbnail_pixels(rgb)
    return pixels.shape[0] >= 8 and pixels.shape[1] >= 8 and _on_studio_white(pixels)


def pixel_box(size: tuple[int, int], box: Box) -> tuple[int, int, int, int]:
    """The box in pixels of an image of this size (at least one pixel each way)."""
    width, height = size
    x0, y0 = int(np.floor(box[0] * width)), int(np.floor(box[1] * height))
    x1, y1 = int(np.ceil(box[2] * width)), int(np.ceil(box[3] * height))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


@dataclass(frozen=True)
class DecodedPhoto:
    """An upload ready to search: the whole upright photo (for its preview), the searched
    region as the model's input, and the box it came from. ``whole``: the whole photo's
    input too, when the region is the default box (borders trimmed, not the shopper's own
    box): photo search then scores each product by the better of the two (see
    ``model_inputs``)."""

    photo: Image.Image
    pixels: np.ndarray
    box: Box
    whole: np.ndarray | None = None

    def model_inputs(self) -> np.ndarray:
        """What the model embeds for this search: (V, 224, 224, 3), the region first, then
        the whole photo when the trim was ours. The trimmed region wins on a product lying
        on a table; the whole photo keeps the framing the catalogue's own images have, and
        wins on a photo of the product itself (measured on held-out validation photos)."""
        if self.whole is None:
            return self.pixels[np.newaxis]
        return np.stack([self.pixels, self.whole])


def decoded_upload(data: bytes) -> Image.Image:
    """The upload as an upright RGB image, or UploadRejected saying why it cannot be used."""
    try:
        return decode_for_model(data, max_decoded_pixels=vs_settings.QUERY_MAX_PIXELS)
    except ImageRejected as exc:
        raise UploadRejected(str(exc)) from None


def decode_photo(data: bytes, box: Box | None = None, *, trim: bool = True) -> DecodedPhoto:
    """Decode an upload and cut out the searched region: ``box``, else (``trim``) the photo
    with uniform borders trimmed (``default_box``). A small region is decoded from a larger
    copy of the photo (up to _MAX_REGION_ZOOM times the usual), so it keeps its detail.
    UploadRejected when the bytes cannot be used."""
    rgb = decoded_upload(data)
    ours = box is None and trim
    if box is None:
        box = default_box(rgb) if trim else FULL_BOX
    if box == FULL_BOX:
        return DecodedPhoto(rgb, to_model_input(rgb), FULL_BOX)
    return DecodedPhoto(rgb, region_inputs(data, rgb, [box])[0], box, to_model_input(rgb) if ours else None)


def region_inputs(data: bytes, rgb: Image.Image, boxes: list[Box]) -> np.ndarray:
    """The model inputs of these regions of the upload (N, 224, 224, 3): small regions are cut
    from a larger decoding of the photo (up to _MAX_REGION_ZOOM times the usual, decoded once
    for all), so they keep their detail. ``rgb``: the photo as ``decoded_upload`` gave it."""
    if not boxes:
        return np.zeros((0, *MODEL_INPUT_SIZE, 3), np.uint8)
    zoom = min(_MAX_REGION_ZOOM, max(1.0 / min(b[2] - b[0], b[3] - b[1]) for b in boxes))
    source = rgb
    if zoom > 1.0:
        large = (round(DECODE_BOX[0] * zoom), round(DECODE_BOX[1] * zoom))
        try:
            source = to_rgb(
                open_image(data, draft_size=large, max_decoded_pixels=vs_settings.QUERY_MAX_PIXELS), box=large
            )
        except ImageRejected as exc:
            raise UploadRejected(str(exc)) from None
    return np.stack([to_model_input(source.crop(pixel_box(source.size, box))) for box in boxes])


def query_colour(pixels: np.ndarray) -> np.ndarray:
    """The photo's colour descriptor (numpy, in the web process): (196,) for one model
    input, (V, 196) for several (``DecodedPhoto.model_inputs``)."""
    if pixels.ndim == 4:
        return np.stack([colour_mod.colour_descriptor(p) for p in pixels])
    return colour_mod.colour_descriptor(pixels)


def preview_data_url(rgb: Image.Image, box: tuple[int, int] = (480, 480)) -> str:
    """A small JPEG of the photo as a data: URL, for the results page."""
    image = rgb.copy()
    image.thumbnail(box)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
