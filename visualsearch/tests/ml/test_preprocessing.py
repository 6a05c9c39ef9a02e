"""The model's preprocessing on hostile files: malformed EXIF still gives an upright model
input; the query limit applies to formats decoded at full size only."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.images import ImageRejected
from tests.support.exif import malformed_exif_jpeg
from visualsearch.ml.preprocessing import DECODE_BOX, bytes_to_model_input, decode_for_model


def test_malformed_exif_gives_an_upright_model_input() -> None:
    assert decode_for_model(malformed_exif_jpeg(size=(64, 48))).size == (48, 64)
    assert bytes_to_model_input(malformed_exif_jpeg()).shape == (224, 224, 3)


def test_query_limit_refuses_large_png_but_decodes_large_jpeg_small() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000)).save(buffer, format="PNG")
    with pytest.raises(ImageRejected, match="PNG images can be at most 5 megapixels"):
        decode_for_model(buffer.getvalue(), max_decoded_pixels=5_000_000)
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 120, 200)).save(buffer, format="JPEG")
    assert max(decode_for_model(buffer.getvalue(), max_decoded_pixels=5_000_000).size) <= max(DECODE_BOX)
