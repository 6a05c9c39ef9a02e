"""Decoding: malformed metadata never breaks it, large pictures are cheap or refused early,
modes and orientation come out right."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.images import ImageRejected, exif_orientation, open_image, to_rgb
from tests.support.exif import (
    WRONG_TYPE_RESOLUTION,
    jpeg_with_exif,
    malformed_exif_jpeg,
    orientation_entry,
)

BOX = (448, 448)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_pillow_itself_fails_on_the_malformed_exif_we_handle() -> None:
    """The reproduction: Pillow's exif_transpose raises on a tag stored with the wrong type."""
    with pytest.raises(TypeError):
        ImageOps.exif_transpose(Image.open(io.BytesIO(malformed_exif_jpeg())))


def test_malformed_exif_is_ignored_but_the_orientation_still_applies() -> None:
    image = open_image(malformed_exif_jpeg(size=(64, 48)))
    assert exif_orientation(image) == 6
    assert to_rgb(image).size == (48, 64)  # upright: rotated like any orientation-6 photo


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillows_exif_transpose(orientation: int) -> None:
    source = Image.new("RGB", (40, 30), (0, 0, 0))
    source.paste((255, 0, 0), (0, 0, 10, 10))  # a red corner shows every flip and turn
    data = jpeg_with_exif(source, [orientation_entry(orientation)])
    ours = np.asarray(to_rgb(open_image(data)), dtype=np.int16)
    pillows = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"), dtype=np.int16)
    assert ours.shape == pillows.shape and np.abs(ours - pillows).max() <= 2


def test_an_upright_result_is_not_turned_again() -> None:
    """to_rgb is idempotent: the orientation is applied once, even if the result is converted again."""
    upright = to_rgb(open_image(malformed_exif_jpeg(size=(64, 48))))
    assert exif_orientation(upright) == 1 and to_rgb(upright).size == (48, 64)


def test_a_broken_orientation_value_counts_as_upright() -> None:
    data = jpeg_with_exif(Image.new("RGB", (40, 30)), [(0x0112, 2, 4, b"abc\x00"), WRONG_TYPE_RESOLUTION])
    assert to_rgb(open_image(data)).size == (40, 30)


def test_query_limit_refuses_large_png_from_its_header_but_not_large_jpeg() -> None:
    png = _png(Image.new("RGB", (3000, 2000)))
    with pytest.raises(ImageRejected, match=r"PNG images can be at most 5 megapixels"):
        open_image(png, draft_size=BOX, max_decoded_pixels=5_000_000)
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 120, 200)).save(buffer, format="JPEG")
    small = open_image(buffer.getvalue(), draft_size=BOX, max_decoded_pixels=5_000_000)  # drafted: 1/8 scale
    assert small.width <= 3000 // 4


@pytest.mark.parametrize(
    ("mode", "value", "grey"),
    [("I;16", 65535, 255), ("I;16", 32768, 128), ("F", 100.0, 100), ("RGBA", (200, 0, 0, 0), 255), ("L", 77, 77)],
)
def test_large_images_shrink_before_converting_and_keep_their_tone(mode: str, value: object, grey: int) -> None:
    image = Image.new(mode, (2000, 1000), value)  # type: ignore[arg-type]
    rgb = to_rgb(image, box=BOX)
    assert rgb.mode == "RGB" and rgb.size == (448, 224)
    assert abs(int(np.asarray(rgb)[100, 100, 0]) - grey) <= 1


def test_any_decoder_error_is_a_rejection(make_image) -> None:
    data = bytearray(make_image(fmt="PNG"))
    data[40:60] = b"\xff" * 20  # a corrupt chunk
    with pytest.raises(ImageRejected):
        to_rgb(open_image(bytes(data)))
