"""The colour descriptor (visualsearch.ml.colour): the product's colours, not its background's."""

from __future__ import annotations

import numpy as np

from visualsearch.ml import colour


def product_photo(
    product_rgb: tuple[int, int, int], background_rgb: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """A 224×224 photo: a product-shaped block of one colour on a plain background."""
    pixels = np.empty((224, 224, 3), np.uint8)
    pixels[:] = background_rgb
    pixels[40:190, 60:165] = product_rgb
    return pixels


def test_descriptor_is_a_unit_vector_of_196_soft_bins() -> None:
    d = colour.colour_descriptor(product_photo((200, 30, 30)))
    assert d.shape == (colour.COLOUR_DIM,) == (196,) and d.dtype == np.float32
    assert np.linalg.norm(d) == np.float32(1.0) or abs(np.linalg.norm(d) - 1) < 1e-5
    assert (d >= 0).all()
    # Soft bins: a colour spreads over a few neighbouring bins, not one.
    assert np.count_nonzero(d > 0.2) >= 3 and d.max() < 0.9


def test_background_is_left_out_and_the_product_colour_counts() -> None:
    red_on_white = colour.colour_descriptor(product_photo((200, 30, 30)))
    red_on_green = colour.colour_descriptor(product_photo((200, 30, 30), (40, 200, 60)))
    blue_on_white = colour.colour_descriptor(product_photo((30, 40, 200)))
    assert red_on_white @ red_on_green > 0.95  # the green background is removed
    assert red_on_white @ blue_on_white < 0.2


def test_a_product_in_the_background_colour_inside_the_frame_is_kept() -> None:
    # A white shirt on white: nothing but "background" touches the border, but the whole
    # photo is not background: the descriptor falls back to every pixel, centre-weighted.
    d = colour.colour_descriptor(product_photo((255, 255, 255)))
    assert np.isfinite(d).all() and abs(np.linalg.norm(d) - 1) < 1e-5


def test_stored_form_round_trip_and_rows_without_one() -> None:
    d = colour.colour_descriptor(product_photo((120, 90, 20)))
    data = colour.to_bytes(d)
    assert len(data) == 392
    np.testing.assert_allclose(colour.from_bytes(data), d, atol=1e-3)
    assert colour.from_bytes(None) is None
    assert colour.from_bytes(b"\x00" * 10) is None
