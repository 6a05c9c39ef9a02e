"""Typed app settings read from the environment (config/settings/app_settings.py): a Literal
field takes one of its values, and anything else stops start-up with the variable named."""

from __future__ import annotations

import typing

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.app_settings import _read
from visualsearch.conf import VisualSearchSettings


def test_a_literal_setting_takes_only_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = typing.get_type_hints(VisualSearchSettings)["ENGINE"]
    monkeypatch.setenv("VISUALSEARCH_ENGINE", "onnxruntime")
    with pytest.raises(ImproperlyConfigured, match="VISUALSEARCH_ENGINE='onnxruntime': expected one of auto, onnx"):
        _read("VISUALSEARCH_ENGINE", kind)
    monkeypatch.setenv("VISUALSEARCH_ENGINE", "tensorflow")
    assert _read("VISUALSEARCH_ENGINE", kind) == "tensorflow"
