"""Fixtures of the import tests."""

from __future__ import annotations

import pytest

from core.background import background_wait_idle


@pytest.fixture
def no_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default
    yield
    assert background_wait_idle(60), "the import job did not finish"
