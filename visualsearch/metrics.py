"""Prometheus metrics of visual search (served with django-prometheus' request and database
metrics at /metrics, to the monitoring network only: config/metrics.py).

Per process: how long searches take (by kind) and the state of this process's index (rows,
content version, seconds since it last looked at the change log, the FAISS artifact it
serves, each space's probe count and tuned recall). For the whole site, read at scrape time
from PostgreSQL and the broker: embeddings computed in the last 5 minutes (throughput),
failed embeddings, the queues' depth, the running reindex's progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

P = ParamSpec("P")
R = TypeVar("R")

SEARCH_SECONDS = Histogram(
    "lookalike_search_seconds",
    "Time to answer a visual search, by kind (similar, photo, photo_refine).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)


@contextmanager
def search_timer(kind: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        SEARCH_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)


def timed_search(kind: str | Callable[..., str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Time every call of a search service as ``kind`` (or the kind ``kind(*args, **kwargs)``
    names for that call)."""

    def decorator(service: Callable[P, R]) -> Callable[P, R]:
        @wraps(service)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            with search_timer(kind(*args, **kwargs) if callable(kind) else kind):
                return service(*args, **kwargs)

        return timed

    return decorator


class VisualSearchCollector(Collector):
    """Gauges computed when Prometheus scrapes: nothing is kept up to date in between."""

    def describe(self) -> list[GaugeMetricFamily]:
        # Without describe() the registry would call collect() on registration, at app
        # start-up, querying the database before the apps are ready.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._index()
        yield from self._site()

    def _index(self) -> Iterator[GaugeMetricFamily]:
        from visualsearch.index import loaded_index
        from visualsearch.index.loading import IndexStatus

        index = loaded_index()
        if index is None:  # this process has not searched yet: nothing loaded, nothing to report
            return
        status_of = getattr(index, "status", None)
        status = status_of() if callable(status_of) else IndexStatus(0, 0, 0.0, None, False)
        rows = GaugeMetricFamily("lookalike_index_rows", "Searchable products in this process's index.")
        rows.add_metric([], float(status.rows))
        yield rows
        version = GaugeMetricFamily("lookalike_index_version", "Content version of this process's index.")
        version.add_metric([], float(status.version))
        yield version
        last_check = status.last_check
        stale = GaugeMetricFamily(
            "lookalike_index_staleness_seconds", "Seconds since this process's index last read the change log."
        )
        stale.add_metric([], max(0.0, time.monotonic() - last_check) if last_check else float("inf"))
        yield stale
        if status.uses_artifacts:
            family = GaugeMetricFamily(
                "lookalike_index_artifact_version", "The FAISS artifact this process serves (0: the exact index)."
            )
            family.add_metric([], float(status.artifact_version or 0))
            yield family
            nprobe = GaugeMetricFamily(
                "lookalike_index_nprobe",
                "Inverted lists a FAISS search probes, by ranking space (tuned at the artifact's build, "
                "or VISUALSEARCH_FAISS_NPROBE).",
                labels=["space"],
            )
            recall = GaugeMetricFamily(
                "lookalike_index_tuned_recall",
                "Recall the artifact's build measured at the tuned probe count (of the exact candidates), by space.",
                labels=["space"],
            )
            for space, count in status.nprobe.items():
                nprobe.add_metric([space], float(count))
                measured = status.tuned_recall.get(space)
                if measured is not None:
                    recall.add_metric([space], float(measured))
            yield nprobe
            yield recall

    def _site(self) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError
        from django.utils import timezone

        from visualsearch import selectors
        from visualsearch.models import EmbeddingStatus, ProductEmbedding

        try:
            recent = ProductEmbedding.objects.filter(
                status=EmbeddingStatus.DONE, computed_at__gte=timezone.now() - timedelta(minutes=5)
            ).count()
            failed = ProductEmbedding.objects.filter(status=EmbeddingStatus.FAILED).count()
            pending = ProductEmbedding.objects.filter(status=EmbeddingStatus.PENDING).count()
            job = selectors.reindex_job_running()
            progress = selectors.reindex_job_progress(job) if job else None
        except DatabaseError:
            return
        throughput = GaugeMetricFamily(
            "lookalike_embeddings_computed_5m", "Embeddings computed in the last 5 minutes (all workers)."
        )
        throughput.add_metric([], float(recent))
        yield throughput
        states = GaugeMetricFamily("lookalike_embeddings", "Embeddings by state.", labels=["state"])
        states.add_metric(["failed"], float(failed))
        states.add_metric(["pending"], float(pending))
        yield states
        reindex = GaugeMetricFamily(
            "lookalike_reindex_progress_ratio", "Share of the running reindex done or failed (absent: none runs)."
        )
        if progress is not None and progress.total:
            reindex.add_metric([], (progress.done + progress.failed) / progress.total)
        yield reindex
        queues = selectors.task_queue_lengths()
        depth = GaugeMetricFamily("lookalike_queue_depth", "Tasks waiting in the broker, by queue.", labels=["queue"])
        for name, length in (queues or {}).items():
            depth.add_metric([name], float(length))
        yield depth


_registered = False


def register() -> None:
    """Add the collector to the default registry once per process (app start-up)."""
    global _registered
    if not _registered:
        REGISTRY.register(VisualSearchCollector())
        _registered = True
