"""The bag's settings, each with its default once; a Django setting ``BAG_<NAME>`` overrides it."""

from __future__ import annotations

from typing import Any

from core.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # The most units of one size in one bag line.
    "MAX_QUANTITY_PER_LINE": 10,
    # Anonymous bags untouched for this many days are deleted (the periodic task).
    "ANONYMOUS_BAG_DAYS": 30,
}


bag_settings = AppSettings("BAG", DEFAULTS)
