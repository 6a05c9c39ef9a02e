"""The one table of photo uploads: the broken or hostile ones the site refuses (and what its
message says) and the unusual but valid ones it searches (and the size they are upright).

visualsearch/tests/test_bad_input.py runs every case against both the photo search page and the API;
core/tests/test_images.py runs them against the image decoder both use. docs/security.md
"Bad input" lists the cases.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from tests.support.catalogue import catalogue_photo, catalogue_rows
from tests.support.images import (
    animated_gif,
    bomb_png,
    decoded,
    encoded,
    exif_rotated_jpeg,
    sixteen_bit_png,
    truncated_jpeg,
)

# The searched catalogue is the first rows of catalogue_rows(); the photos here come from a
# row well past them, so a search never finds the very same photo.
PHOTO_ROW = 64
SCRIPT = '<script>alert("owned")</script>'
SVG = f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{SCRIPT}<rect width="10" height="10"/></svg>'
HTML = f"<!doctype html><html><body><h1>hi</h1>{SCRIPT}</body></html>"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@functools.cache
def _photo_bytes() -> bytes:
    return catalogue_photo(catalogue_rows(PHOTO_ROW)[-1])


def a_photo() -> Image.Image:
    """A real product photo (60×80, portrait) that is not in the searched catalogue."""
    return decoded(_photo_bytes())


def truncated_photo() -> bytes:
    return truncated_jpeg(a_photo(), (300, 400), quality=90)


def animated_gif_photo() -> bytes:
    first = a_photo()
    return animated_gif(first, Image.new("RGB", first.size, (0, 160, 0)))


def one_pixel_png() -> bytes:
    return encoded(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG")


def rgba_png() -> bytes:
    image = a_photo().convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    return encoded(image, "PNG")


@dataclass(frozen=True)
class Upload:
    file_name: str
    make: Callable[[], bytes]
    content_type: str
    # Refused: words the message must contain (lower case). Accepted: the upright size.
    words: tuple[str, ...] = ()
    size: tuple[int, int] = (60, 80)


REFUSED: dict[str, Upload] = {
    "zero bytes": Upload("empty.jpg", lambda: b"", "image/jpeg", ("empty",)),
    "text named .jpg": Upload(
        "notes.jpg", lambda: b"just some text, not a photo\n" * 20, "image/jpeg", ("not an image we can read",)
    ),
    "PDF named .jpg": Upload("photo.jpg", lambda: PDF, "image/jpeg", ("not an image",)),
    "truncated JPEG": Upload("cut.jpg", truncated_photo, "image/jpeg", ("truncated or corrupt",)),
    "20000x20000 PNG bomb": Upload("bomb.png", bomb_png, "image/png", ("too large", "megapixels")),
    "SVG with a script": Upload(f"{SCRIPT}.svg", lambda: SVG.encode(), "image/svg+xml", ("not an image",)),
    "HTML with a script": Upload("page.jpg", lambda: HTML.encode(), "text/html", ("not an image",)),
}

ACCEPTED: dict[str, Upload] = {
    "1x1 image": Upload("dot.png", one_pixel_png, "image/png", size=(1, 1)),
    "animated GIF": Upload("anim.gif", animated_gif_photo, "image/gif"),
    "CMYK JPEG": Upload("cmyk.jpg", lambda: encoded(a_photo().convert("CMYK"), "JPEG", quality=95), "image/jpeg"),
    "16-bit PNG": Upload("deep.png", lambda: sixteen_bit_png(a_photo()), "image/png"),
    "RGBA PNG": Upload("alpha.png", rgba_png, "image/png"),
    "EXIF-rotated JPEG": Upload("phone.jpg", lambda: exif_rotated_jpeg(a_photo()), "image/jpeg"),
    "WebP": Upload("photo.webp", lambda: encoded(a_photo(), "WEBP"), "image/webp"),
}


# --- Reading the photo search page's answer ---------------------------------------------------


def assert_not_echoed(body: str) -> None:
    """The hostile markup is not echoed: no trace of it, and no script element but the
    site's own static files."""
    assert SCRIPT not in body
    scripts = re.findall(r"<script\b[^>]*>", body, re.IGNORECASE)
    assert all(re.search(r'\bsrc="/static/', tag) for tag in scripts), scripts


def form_errors(html: str) -> str:
    """The error messages the page shows (as rendered, HTML-escaped)."""
    return " ".join(re.findall(r'<div class="form-error" role="alert">(.*?)</div>', html, re.S))


def preview_size(html: str) -> tuple[int, int]:
    """The size of the inline preview of the uploaded photo."""
    match = re.search(r'<img class="query-photo" src="data:image/jpeg;base64,([^"]+)"', html)
    assert match, "the photo preview is missing"
    return Image.open(io.BytesIO(base64.b64decode(match.group(1)))).size
