"""Each app's settings, with their defaults once (the app's ``conf.DEFAULTS``), overridden by a
Django setting ``<PREFIX>_<NAME>``, which ``config/settings.py`` reads from the environment
variable of the same name (``environment_overrides``). Code reads ``<app>_settings.NAME``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class AppSettings:
    def __init__(self, prefix: str, defaults: Mapping[str, Any]) -> None:
        self._prefix = prefix
        self._defaults = defaults

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"no {self._prefix} setting {name!r}")
        from django.conf import settings

        default = self._defaults[name]
        value = getattr(settings, f"{self._prefix}_{name}", default)
        if isinstance(default, Decimal) and not isinstance(value, Decimal):
            value = Decimal(str(value))
        return self.resolve(name, value, settings)

    def resolve(self, name: str, value: Any, settings: Any) -> Any:
        """The value to use (apps derive defaults that depend on other settings here)."""
        return value


def environment_overrides(env: Any, prefix: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The ``<PREFIX>_<NAME>`` settings the environment sets, converted to the default's type."""
    overrides: dict[str, Any] = {}
    for name, default in defaults.items():
        variable = f"{prefix}_{name}"
        if variable not in env.ENVIRON:
            continue
        if isinstance(default, bool):
            overrides[variable] = env.bool(variable)
        elif isinstance(default, Decimal):
            overrides[variable] = Decimal(env.str(variable))
        else:
            overrides[variable] = env.get_value(variable, cast=type(default))
    return overrides
