"""Each app's own settings from the environment.

An app declares its settings once, typed, with their defaults (``<app>/conf.py``, e.g.
``visualsearch.conf.VisualSearchSettings``). The environment variable ``<PREFIX>_<NAME>``
overrides a field: it is read here, converted to the field's type, into the dict setting
``<PREFIX>`` (e.g. ``VISUALSEARCH = {"BATCH_SIZE": 8}``). A Django setting ``<PREFIX>_<NAME>``
(test settings, ``override_settings``) overrides both; code reads ``<app>_settings.NAME``.
"""

import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from api.conf import ApiSettings
from bag.conf import BagSettings
from checkout.conf import CheckoutSettings
from config.settings.base import env
from config.settings.celery import CELERY_TASK_ALWAYS_EAGER
from core.conf import field_types
from discovery.conf import DiscoverySettings
from insights.conf import InsightsSettings
from orders.conf import OrdersSettings
from shop.conf import ShopSettings
from stockalerts.conf import StockAlertsSettings
from visualsearch.conf import VisualSearchSettings


def _read(variable: str, kind: Any) -> Any:
    """The environment variable's value as a ``kind`` (booleans as django-environ reads them:
    1/true/yes/on; tuples: comma separated)."""
    if kind is bool:
        return env.bool(variable)
    if kind in (int, float):
        return env.get_value(variable, cast=kind)
    if kind is Decimal:
        return Decimal(env.str(variable))
    if kind in (str, Path):
        return env.str(variable)  # a Path field: "" means its default
    if typing.get_origin(kind) is typing.Literal:  # one of the listed strings, checked here
        value = env.str(variable)
        if value not in typing.get_args(kind):
            raise ImproperlyConfigured(f"{variable}={value!r}: expected one of {', '.join(typing.get_args(kind))}")
        return value
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_read_item(part, item) for part in env.tuple(variable))
    raise TypeError(f"{variable}: no way to read a {kind} from the environment")


def _read_item(text: str, kind: Any) -> Any:
    return kind(text.strip())


def _from_environment(prefix: str, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that the environment sets, by name, in their types."""
    return {
        name: _read(f"{prefix}_{name}", kind)
        for name, kind in field_types(cls).items()
        if f"{prefix}_{name}" in env.ENVIRON
    }


VISUALSEARCH = _from_environment("VISUALSEARCH", VisualSearchSettings)
if CELERY_TASK_ALWAYS_EAGER:
    # No broker: photo-search queries embed in-process (unless the environment says otherwise).
    VISUALSEARCH.setdefault("QUERY_IN_PROCESS", True)
SHOP = _from_environment("SHOP", ShopSettings)
BAG = _from_environment("BAG", BagSettings)
ORDERS = _from_environment("ORDERS", OrdersSettings)
CHECKOUT = _from_environment("CHECKOUT", CheckoutSettings)
INSIGHTS = _from_environment("INSIGHTS", InsightsSettings)
API = _from_environment("API", ApiSettings)
STOCKALERTS = _from_environment("STOCKALERTS", StockAlertsSettings)
DISCOVERY = _from_environment("DISCOVERY", DiscoverySettings)
