"""The insights' settings, each with its default once; a Django setting ``INSIGHTS_<NAME>``
overrides it (``config/settings/app_settings.py`` reads each from the environment variable of
that name)."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class InsightsSettings:
    # Record what shoppers do (searches, click-throughs, adds to bag, orders). Off: nothing is
    # recorded and no cookie is set; the dashboard shows what was recorded before.
    RECORD: bool = True
    # Keep a small preview (at most PREVIEW_PIXELS on its longer side) of a photo that found
    # nothing close; off: only its vector is kept.
    KEEP_PREVIEWS: bool = True
    PREVIEW_PIXELS: int = 96
    # Days a "nothing close" photo's vector and preview are kept; the periodic task deletes
    # older ones.
    RETENTION_DAYS: int = 30
    # How long after a visual search a click, an add to bag or an order is credited to it (the
    # browser session's last visual search, at most this many hours before).
    ATTRIBUTION_HOURS: int = 24
    # Events moved from the buffer to the database per batch.
    FLUSH_BATCH: int = 2000
    # Two products look the same when their stored vectors' cosine is at least this.
    DUPLICATE_COSINE: float = 0.985
    # Near-duplicates compare every pair of stored vectors: at most this many products (the
    # newest); identical pictures (checksums) are found over the whole catalogue.
    DUPLICATE_MAX_PRODUCTS: int = 5000
    # Themes: photos whose vectors' cosine distance to the group is below this join it.
    THEME_DISTANCE: float = 0.35
    # At most this many "nothing close" photos (the newest) are grouped into themes.
    THEME_MAX_PHOTOS: int = 3000


insights_settings = app_settings("INSIGHTS", InsightsSettings)
