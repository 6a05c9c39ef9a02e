"""What insights' recording adds to a request: the same pages requested in-process (Django's
test client: no network, no server), recording on and off interleaved request by request so
that a busy machine slows both alike. Plain functions; the command prints."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django.test import Client, override_settings


@dataclass(frozen=True)
class RecordingFigure:
    page: str
    requests: int
    off_p50_ms: float
    on_p50_ms: float
    off_mean_ms: float
    on_mean_ms: float

    @property
    def ratio(self) -> float:
        return self.on_p50_ms / self.off_p50_ms if self.off_p50_ms else float("nan")


def _timed(client: Client, path: str, record: bool) -> float:
    with override_settings(INSIGHTS_RECORD=record):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return elapsed * 1000


def recording_cost(
    pages: Mapping[str, Sequence[str]], *, rounds: int, on_page: Callable[[RecordingFigure], None] | None = None
) -> list[RecordingFigure]:
    """For each page kind (name → paths), ``rounds`` requests with recording off and as many on,
    alternating (off, on, on, off, …), after a warm-up."""
    figures = []
    for name, paths in pages.items():
        client = Client()
        for path in paths[:5]:
            client.get(path)
        off: list[float] = []
        on: list[float] = []
        for i in range(rounds):
            path = paths[i % len(paths)]
            order = (False, True) if i % 2 == 0 else (True, False)
            for record in order:
                (on if record else off).append(_timed(client, path, record))
        figure = RecordingFigure(
            name, rounds, statistics.median(off), statistics.median(on), statistics.fmean(off), statistics.fmean(on)
        )
        figures.append(figure)
        if on_page:
            on_page(figure)
    return figures
