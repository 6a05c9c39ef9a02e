"""/healthz, built on django-health-check's checks.

- Everyone (load balancers, docker's healthcheck, strangers) gets today's answer and nothing
  more: ``{"status": "ok"}``, or 503 ``{"status": "unavailable"}`` when the database cannot be
  reached. Only the database is checked for them: it is what the web process cannot work
  without, and the probe runs every few seconds.
- Signed-in staff get every check with its result: the database, the caches (default and the
  rate limits'), media storage (a file written, read, deleted), the Celery broker and a worker's
  answer to a ping (when tasks go through a broker), and the search index's freshness
  (embeddings from an older model, failed ones, this process's index behind the database).
  A failing non-critical check makes their ``status`` "degraded" (still 200).

The reason of a failure goes to the log, never to a stranger (it names hosts, ports and roles).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time

from asgiref.sync import async_to_sync, sync_to_async
from celery import current_app
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Cache, Database, Storage
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceWarning
from redis.asyncio import Redis as RedisClient

from visualsearch.index import get_index
from visualsearch.index.loading import IndexStatus, LiveIndex
from visualsearch.selectors import EmbeddingCounts, embedding_counts

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SearchIndexFreshness(HealthCheck):
    """The search index serves current embeddings: none from an older model, none failed, and
    this process's index (when loaded) holds what the database says is done."""

    # Rows the loaded index may lag behind the database (changes in flight until its refresh).
    tolerance: int = dataclasses.field(default=50, repr=False)

    async def run(self) -> None:
        # The reads run in the request's own thread (and database connection).
        counts, status = await sync_to_async(self._read)()
        if counts.stale:
            raise ServiceWarning(f"{counts.stale} embeddings are from an older model: run a reindex (missing).")
        if counts.failed:
            raise ServiceWarning(f"{counts.failed} product photos failed to embed (admin: Embeddings, failed).")
        if status is not None and status.rows + self.tolerance < counts.done:
            raise ServiceWarning(f"This process's index holds {status.rows} of {counts.done} embeddings.")

    @staticmethod
    def _read() -> tuple[EmbeddingCounts, IndexStatus | None]:
        index = get_index()
        return embedding_counts(), index.status() if isinstance(index, LiveIndex) and index.loaded else None


def _broker_checks() -> list[tuple[HealthCheck, str]]:
    """The broker and a worker's heartbeat, when tasks go through a broker (not in-process)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    checks: list[tuple[HealthCheck, str]] = []
    broker = str(settings.CELERY_BROKER_URL)
    if broker.startswith(("redis://", "rediss://")):
        checks.append((Redis(client_factory=lambda: RedisClient.from_url(broker)), "celery broker"))
    checks.append((Ping(app=current_app, timeout=datetime.timedelta(seconds=2), limit=1), "celery workers"))
    return checks


def staff_checks() -> list[tuple[HealthCheck, str]]:
    return [
        (Database(), "database"),
        (Cache(alias="default"), "cache"),
        (Cache(alias="ratelimit"), "rate-limit cache"),
        (Storage(), "media storage"),
        *_broker_checks(),
        (SearchIndexFreshness(), "search index"),
    ]


CRITICAL = frozenset({"database"})


def run_checks(checks: list[tuple[HealthCheck, str]]) -> list[tuple[str, HealthCheckResult]]:
    async def gather() -> list[HealthCheckResult]:
        return list(await asyncio.gather(*(check.get_result() for check, _name in checks)))

    results = async_to_sync(gather)()
    return [(name, result) for (_check, name), result in zip(checks, results, strict=True)]


def healthz(request: HttpRequest) -> JsonResponse:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        response = _staff_answer()
    else:
        [(_name, result)] = run_checks([(Database(), "database")])
        if result.error:
            logger.error("health check: the database is unreachable: %s", str(result.error).strip())
            response = JsonResponse({"status": "unavailable"}, status=503)
        else:
            response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response


def _staff_answer() -> JsonResponse:
    started = time.monotonic()
    results = run_checks(staff_checks())
    failed = {name for name, result in results if result.error}
    status = "unavailable" if failed & CRITICAL else "degraded" if failed else "ok"
    for name, result in results:
        if result.error and not isinstance(result.error, ServiceWarning):
            logger.warning("health check %s failed: %s", name, result.error)
    body = {
        "status": status,
        "checks": {
            name: {
                "ok": not result.error,
                "critical": name in CRITICAL,
                "message": str(result.error) if result.error else "OK",
                "seconds": round(result.time_taken, 3),
            }
            for name, result in results
        },
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=503 if status == "unavailable" else 200)
