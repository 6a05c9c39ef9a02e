"""Insights' tests: the events' buffer (Redis, REDIS_URL) starts empty in each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from insights import buffer


@pytest.fixture(autouse=True)
def _empty_buffer() -> Iterator[None]:
    buffer.events_take(1_000_000)
    yield
    buffer.events_take(1_000_000)
