"""The API's settings, each with its default once; a Django setting ``API_<NAME>`` overrides it
(``config/settings/app_settings.py`` reads each from the environment variable of that name)."""

from __future__ import annotations

from dataclasses import dataclass

from core.conf import app_settings


@dataclass(frozen=True)
class ApiSettings:
    # Requests per API key (its own budget, whatever its address) unless the key names its own.
    KEY_RATE: str = "600/m"
    # Anonymous catalogue and bag calls per client address (the searches keep their own limits:
    # RATELIMITS["similar_api"] and RATELIMITS["photo_search"]).
    ANONYMOUS_RATE: str = "300/m"
    # Products per page of the list endpoint, and the most a client may ask for.
    PAGE_SIZE: int = 24
    MAX_PAGE_SIZE: int = 100
    # The day the unversioned endpoints (/api/products/<id>/similar, /api/search/photo) go
    # (their Sunset header, RFC 8594), and the date they were deprecated (Deprecation header).
    LEGACY_DEPRECATED: str = "2026-12-07"
    LEGACY_SUNSET: str = "2027-06-30"


api_settings = app_settings("API", ApiSettings)
