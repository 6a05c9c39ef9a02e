"""The back-in-stock alerts' settings, each with its default once; a Django setting
``STOCKALERTS_<NAME>`` overrides it (``config/settings/app_settings.py`` reads each from the
environment variable of that name)."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class StockAlertsSettings:
    # Waiting alerts one e-mail address may hold at once (a stranger cannot fill the table).
    MAX_WAITING_PER_EMAIL: int = 50


stockalerts_settings = app_settings("STOCKALERTS", StockAlertsSettings)
