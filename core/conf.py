"""Each app's settings as a typed object.

An app declares its settings once, as a frozen dataclass whose fields carry the defaults
(``visualsearch/conf.py``'s ``VisualSearchSettings``), and exposes ``app_settings(prefix,
cls)``: an object of that dataclass's type for mypy, which reads each field lazily, on every
access, from

1. the Django setting ``<PREFIX>_<NAME>`` (what tests and ``override_settings`` set),
2. the Django setting ``<PREFIX>``, a dict of the ``NAME``s the environment sets
   (``config/settings/app_settings.py`` reads them by the fields' names and types),
3. the field's default.

Values are converted to the field's type where the type says how (``Decimal`` from a number
or string, ``Path`` from a string; an empty path means the default). Code reads
``<app>_settings.NAME``; mypy checks the name and the type.
"""

from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")

_MISSING = object()


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a settings dataclass, by name."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _convert(value: Any, kind: Any, default: Any) -> Any:
    """A Django setting's value in the field's type, where that needs converting."""
    if kind is Decimal and not isinstance(value, Decimal):
        return Decimal(str(value))
    if kind is Path:
        return Path(value) if value else default
    return value


class _LazyAppSettings:
    """The object behind ``app_settings``: each attribute read goes to the Django settings."""

    def __init__(self, prefix: str, cls: type) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_defaults", cls())
        object.__setattr__(self, "_types", field_types(cls))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._types:
            raise AttributeError(f"no {self._prefix} setting {name!r}")
        from django.conf import settings

        default = getattr(self._defaults, name)
        value = getattr(settings, f"{self._prefix}_{name}", _MISSING)
        if value is _MISSING:
            value = getattr(settings, self._prefix, {}).get(name, default)
        return _convert(value, self._types[name], default)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{self._prefix} settings are read-only: set the Django setting {self._prefix}_{name}")

    def __dir__(self) -> list[str]:
        return sorted(self._types)

    def __repr__(self) -> str:
        return f"<{self._prefix} settings>"


def app_settings(prefix: str, cls: type[T]) -> T:
    """The app's settings, typed as ``cls`` (a frozen dataclass of fields with defaults)."""
    return cast(T, _LazyAppSettings(prefix, cls))
