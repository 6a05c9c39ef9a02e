"""The bag's settings, each with its default once; a Django setting ``BAG_<NAME>`` overrides it
(``config/settings/app_settings.py`` reads each from the environment variable of that name)."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class BagSettings:
    # The most units of one size in one bag line.
    MAX_QUANTITY_PER_LINE: int = 10
    # Anonymous bags untouched for this many days are deleted (the periodic task).
    ANONYMOUS_BAG_DAYS: int = 30


bag_settings = app_settings("BAG", BagSettings)
