"""The shop's settings, each with its default once. A Django setting ``SHOP_<NAME>`` overrides
the default (``config/settings/app_settings.py`` reads them from environment variables of the
same name); code reads ``shop_settings.<NAME>``."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class ShopSettings:
    # ISO 4217 code of the shop's prices; shown with its symbol when we know it.
    CURRENCY: str = "INR"
    # Limits of an admin import's uploads (shop/importing/uploads.py).
    IMPORT_MAX_CSV_BYTES: int = 20 * 1024 * 1024
    IMPORT_MAX_ZIP_BYTES: int = 1024 * 1024 * 1024
    IMPORT_MAX_ZIP_MEMBERS: int = 50_000
    # Per image, and all images together, once uncompressed.
    IMPORT_MAX_IMAGE_BYTES: int = 20 * 1024 * 1024
    IMPORT_MAX_UNZIPPED_BYTES: int = 4 * 1024 * 1024 * 1024
    # JPEG photos barely compress; a zip bomb expands hundreds of times or more.
    IMPORT_MAX_RATIO: int = 100
    # Staff images (admin upload, import, thumbnails, the embedding worker): formats decoded at
    # full size (PNG, WebP, TIFF, BMP, GIF) are refused from their header above this many
    # pixels; JPEGs are decoded at a reduced scale and go up to MAX_IMAGE_PIXELS (50 MP).
    # 8 MP keeps any one file's decoding under 150 MB (a lossless WebP costs ~16 bytes a pixel
    # to decode, an RGBA PNG ~8): `manage.py bench_decode --path staff --path embedding`.
    IMAGE_MAX_DECODED_PIXELS: int = 8_000_000
    # The catalogue's counts and facet counts, kept in the shared "catalogue" cache under the
    # catalogue version (shop/caching.py: a product change shows at once), at most this long.
    CATALOGUE_CACHE_SECONDS: int = 3600


CURRENCY_SYMBOLS: dict[str, str] = {"INR": "₹", "EUR": "€", "USD": "$", "GBP": "£"}


shop_settings = app_settings("SHOP", ShopSettings)
