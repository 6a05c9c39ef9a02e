"""visualsearch.query.photo: the upload's size limit, the ``box`` field, the default box
(uniform borders trimmed), decoding the searched region, the query's colour and preview.
No database: real catalogue photos, on real canvases."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInput
from tests.support.catalogue import rows_and_photos
from visualsearch.ml.colour import COLOUR_DIM
from visualsearch.ml.preprocessing import decode_for_model, to_model_input
from visualsearch.query.errors import UploadRejected
from visualsearch.query.photo import (
    FULL_BOX,
    MIN_BOX_SIDE,
    decode_photo,
    default_box,
    parse_box,
    pixel_box,
    preview_data_url,
    query_colour,
    studio_backdrop,
    validate_upload_size,
)
from visualsearch.tests.query.photos import gradient, on_plain, on_texture

COUNT = 12


def catalogue_photo(number: int) -> bytes:
    """The photo of the catalogue's product ``number`` (the photo-search tests' catalogue)."""
    return rows_and_photos(COUNT)[number][1]


# --- the box field --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "box"),
    [("", None), (None, None), ("0,0,1,1", (0.0, 0.0, 1.0, 1.0)), (" 0.1, 0.2 ,0.6,0.7", (0.1, 0.2, 0.6, 0.7))],
)
def test_good_boxes_parse(raw: str | None, box: tuple[float, ...] | None) -> None:
    assert parse_box(raw) == box


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("0.1,0.2,0.8", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("0.1,0.2,1.5,0.9", "between 0 and 1"),
        ("inf,0.2,0.5,0.9", "between 0 and 1"),
        ("0.8,0.2,0.1,0.9", "x0 < x1"),
        (f"0.5,0.5,{0.5 + MIN_BOX_SIDE / 2},0.9", "at least 0.05"),
    ],
)
def test_bad_boxes_say_what_is_wrong(raw: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_box(raw)


def test_the_pixel_box_covers_the_box_and_at_least_one_pixel() -> None:
    assert pixel_box((200, 100), (0.25, 0.5, 0.75, 1.0)) == (50, 50, 150, 100)
    assert pixel_box((10, 10), (0.51, 0.51, 0.52, 0.52)) == (5, 5, 6, 6)  # outwards
    assert pixel_box((10, 10), (0.5, 0.5, 0.5, 0.5)) == (5, 5, 6, 6)


# --- the upload -----------------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused_with_both_sizes(settings) -> None:
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 2_000_000
    validate_upload_size(None)
    validate_upload_size(2_000_000)
    with pytest.raises(UploadRejected, match=r"too large \(2\.5 MB\); the limit is 2 MB"):
        validate_upload_size(2_500_000)


def test_bytes_that_are_no_image_are_an_upload_rejected() -> None:
    with pytest.raises(UploadRejected):
        decode_photo(b"not an image at all")


def test_only_the_box_is_embedded() -> None:
    data, box = on_texture(catalogue_photo(3))
    cut = decode_photo(data, box)
    assert cut.box == box
    whole = decode_for_model(data)
    expected = to_model_input(whole.crop(pixel_box(whole.size, box)))
    assert np.abs(cut.pixels.astype(int) - expected.astype(int)).mean() < 6  # the region, up to JPEG decoding
    assert cut.whole is None and cut.model_inputs().shape == (1, 224, 224, 3)  # the shopper's box alone


def test_the_default_box_trims_uniform_borders() -> None:
    photo = catalogue_photo(7)
    data, box = on_plain(photo)
    found = default_box(decode_for_model(data))
    # The product's box, give or take the margin kept around it (and the catalogue's own
    # white backdrop, which is not the canvas colour).
    for got, want, side in zip(found, box, (-1, -1, 1, 1), strict=True):
        assert side * (got - want) >= -0.02 and abs(got - want) < 0.1
    # A catalogue photo (a studio-white backdrop) and a plain gradient keep the whole photo.
    assert default_box(decode_for_model(photo)) == FULL_BOX
    assert default_box(decode_for_model(gradient())) == FULL_BOX


def test_a_studio_white_backdrop_is_told_from_a_table_or_a_texture() -> None:
    photos = [catalogue_photo(n) for n in range(COUNT)]
    assert all(studio_backdrop(decode_for_model(p)) for p in photos)  # the catalogue's own pictures
    assert not any(studio_backdrop(decode_for_model(on_plain(p)[0])) for p in photos[:4])
    assert not any(studio_backdrop(decode_for_model(on_texture(p, seed)[0])) for seed, p in enumerate(photos[:4]))
    assert studio_backdrop(decode_for_model(on_plain(photos[0], (250, 250, 250))[0]))  # a white sheet: as studio
    assert not studio_backdrop(Image.new("RGB", (4, 4), (255, 255, 255)))  # too small to tell


def test_the_default_box_is_searched_with_the_whole_photo() -> None:
    data, _box = on_plain(catalogue_photo(8))
    decoded = decode_photo(data)
    assert decoded.box != FULL_BOX
    inputs = decoded.model_inputs()
    assert inputs.shape == (2, 224, 224, 3)
    np.testing.assert_array_equal(inputs[0], decoded.pixels)
    np.testing.assert_array_equal(inputs[1], decode_photo(data, FULL_BOX).pixels)
    # Without trimming: the whole photo, alone.
    untrimmed = decode_photo(data, trim=False)
    assert untrimmed.box == FULL_BOX and untrimmed.whole is None


# --- colour and preview ---------------------------------------------------------------------------


def test_the_query_colour_has_one_row_per_model_input() -> None:
    inputs = decode_photo(on_plain(catalogue_photo(8))[0]).model_inputs()
    both = query_colour(inputs)
    assert both.shape == (2, COLOUR_DIM)
    np.testing.assert_array_equal(query_colour(inputs[0]), both[0])


def test_the_preview_is_a_small_jpeg_data_url() -> None:
    big = Image.fromarray(np.full((1200, 900, 3), 128, np.uint8))
    url = preview_data_url(big)
    assert url.startswith("data:image/jpeg;base64,")
    preview = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert preview.format == "JPEG" and preview.size == (360, 480)
