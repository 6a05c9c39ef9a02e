"""What one request of each kind costs, measured on the running stack of ``lab.loadtest_scale``.

One shopper at a time (no queueing): each kind's requests are sent one after the other, through
nginx and straight to gunicorn (the difference is nginx's share), and the CPU time each part of
the stack spent meanwhile is read from ``/proc/<pid>/stat`` (utime + stime) before and after:
gunicorn (master and workers), the query worker, nginx, this database's PostgreSQL backends and
the Redis server. CPU time hardly depends on what else runs on the machine, wall time does: both
are reported, per request.
"""

from __future__ import annotations

import http.client
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PARTS = ("gunicorn", "query_worker", "nginx", "postgres", "redis")


def _children(pid: int) -> list[int]:
    """The process's children (Linux ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children(current)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14, stime 15 (1-based, man proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_backends() -> list[int]:
    """This database's PostgreSQL backends, except this process's own (same machine only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(row[0]) for row in cursor.fetchall()]


def redis_pid(url: str) -> int | None:
    """The Redis server's process id (``INFO server``), None when it cannot be read."""
    try:
        import redis

        return int(redis.Redis.from_url(url, socket_timeout=2).info("server")["process_id"])
    except Exception:
        return None


@dataclass
class CpuMeter:
    """CPU seconds per part of the stack, read from /proc; ``parts`` maps a part to a function
    giving its current process ids."""

    parts: dict[str, Callable[[], Iterable[int]]]

    def read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.parts.items()}

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds each part spent between two readings (processes present in both or
        started in between; one that exited in between is not counted)."""
        return {
            name: sum(max(0.0, cpu - before.get(name, {}).get(pid, 0.0)) for pid, cpu in pids.items())
            for name, pids in after.items()
        }


@dataclass
class KindCost:
    kind: str
    wall_ms: list[float] = field(default_factory=list)  # through nginx
    direct_ms: list[float] = field(default_factory=list)  # straight to gunicorn
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request, per part (through nginx)
    errors: int = 0

    @property
    def cpu_total_ms(self) -> float:
        return sum(self.cpu_ms.values())


Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


def send(conn: http.client.HTTPConnection, request: Request) -> tuple[int, float]:
    method, path, body, headers = request
    started = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, 1000 * (time.perf_counter() - started)


def kind_cost(
    kind: str,
    make_request: Callable[[random.Random], Request],
    *,
    port: int,
    direct_port: int,
    meter: CpuMeter,
    count: int,
    seed: int = 0,
) -> KindCost:
    """``count`` requests of one kind, one at a time, through nginx (timed, CPU metered), then
    the same requests straight to gunicorn (timed). The first of each is a warm-up."""
    cost = KindCost(kind)
    requests = [make_request(random.Random(seed * 7919 + i)) for i in range(count + 1)]
    for target, times in ((port, cost.wall_ms), (direct_port, cost.direct_ms)):
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=60)
        send(conn, requests[0])
        before = meter.read() if target == port else None
        for request in requests[1:]:
            status, ms = send(conn, request)
            if status == 200:
                times.append(ms)
            else:
                cost.errors += 1
        if before is not None:
            spent = CpuMeter.spent(before, meter.read())
            cost.cpu_ms = {name: 1000 * seconds / count for name, seconds in spent.items()}
        conn.close()
    return cost


def lines(costs: list[KindCost]) -> list[str]:
    """The service-time table: one line per kind."""
    out = [
        "  service time, one request at a time (wall p50 through nginx / straight to gunicorn; "
        "CPU ms per request by part):"
    ]
    for c in costs:
        wall = statistics.median(c.wall_ms) if c.wall_ms else float("nan")
        direct = statistics.median(c.direct_ms) if c.direct_ms else float("nan")
        parts = ", ".join(f"{name} {c.cpu_ms.get(name, 0.0):.1f}" for name in PARTS)
        out.append(
            f"  {c.kind:<13} n {len(c.wall_ms):>4}  wall p50 {wall:7.1f} ms / direct {direct:7.1f} ms  "
            f"CPU {c.cpu_total_ms:6.1f} ms ({parts})  errors {c.errors}"
        )
    return out
