"""Each app's typed settings (core/conf.py): a Django setting <PREFIX>_<NAME> first, then the
environment's values (the <PREFIX> dict), then the field's default; converted to the field's type."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from core.conf import app_settings, field_types


@dataclass(frozen=True)
class ProbeSettings:
    LIMIT: int = 10
    PRICE: Decimal = Decimal("1.50")
    FOLDER: Path = Path("/default/folder")
    NAMES: tuple[str, ...] = field(default=("a",))


probe_settings = app_settings("PROBE", ProbeSettings)


def test_defaults_then_the_environment_dict_then_the_named_setting(settings) -> None:
    assert probe_settings.LIMIT == 10
    settings.PROBE = {"LIMIT": 20}
    assert probe_settings.LIMIT == 20
    settings.PROBE_LIMIT = 30
    assert probe_settings.LIMIT == 30
    assert probe_settings.NAMES == ("a",)


def test_values_are_converted_to_the_fields_type(settings) -> None:
    settings.PROBE_PRICE = "2.25"
    assert Decimal("2.25") == probe_settings.PRICE
    settings.PROBE_FOLDER = "/elsewhere"
    assert Path("/elsewhere") == probe_settings.FOLDER
    settings.PROBE_FOLDER = ""  # an empty folder: the default
    assert Path("/default/folder") == probe_settings.FOLDER


def test_unknown_names_and_writes_are_refused() -> None:
    with pytest.raises(AttributeError, match="no PROBE setting 'NOPE'"):
        probe_settings.NOPE  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match="read-only"):
        probe_settings.LIMIT = 1  # type: ignore[misc]
    assert dir(probe_settings) == ["FOLDER", "LIMIT", "NAMES", "PRICE"]


def test_field_types_are_the_annotations() -> None:
    assert field_types(ProbeSettings) == {"LIMIT": int, "PRICE": Decimal, "FOLDER": Path, "NAMES": tuple[str, ...]}
