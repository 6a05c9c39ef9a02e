"""Grid thumbnails, made with Pillow and written through the storage API."""

from __future__ import annotations

import io
import posixpath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from core.images import open_image, to_rgb
from shop.conf import shop_settings

THUMBNAIL_BOX = (300, 400)
# Large JPEGs are decoded at a reduced scale, still at least twice the thumbnail box.
THUMBNAIL_DRAFT_SIZE = (THUMBNAIL_BOX[0] * 2, THUMBNAIL_BOX[1] * 2)


def thumbnail_needed(size: tuple[int, int]) -> bool:
    """Images already within the thumbnail box are shown as they are."""
    return size[0] > THUMBNAIL_BOX[0] or size[1] > THUMBNAIL_BOX[1]


def staff_image_open(data: bytes) -> Image.Image:
    """Open a staff image the cheap way: JPEGs at a reduced scale (about twice the thumbnail
    box), other formats only up to ``SHOP_IMAGE_MAX_DECODED_PIXELS`` (checked from the header,
    before any pixel is decoded). ImageRejected says why an image cannot be used."""
    return open_image(data, draft_size=THUMBNAIL_DRAFT_SIZE, max_decoded_pixels=shop_settings.IMAGE_MAX_DECODED_PIXELS)


def image_validate(data: bytes) -> tuple[int, int]:
    """Decode ``data`` as the thumbnail will (ImageRejected when it cannot be used); returns
    the decoded size (JPEGs at their reduced decoding scale)."""
    image = staff_image_open(data)
    size = image.size
    to_rgb(image, box=THUMBNAIL_DRAFT_SIZE)
    return size


def thumbnail_create(image_name: str, data: bytes) -> str:
    """Write a JPEG thumbnail of ``data`` next to the other thumbnails; returns its storage
    name, or "" when the image is small enough to be its own thumbnail."""
    image = staff_image_open(data)
    if not thumbnail_needed(image.size):
        return ""
    rgb = to_rgb(image, box=THUMBNAIL_DRAFT_SIZE)
    rgb.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=85, optimize=True, progressive=True)
    stem = posixpath.splitext(posixpath.basename(image_name))[0]
    return default_storage.save(f"thumbs/{stem}.jpg", ContentFile(buffer.getvalue()))
