"""Where one request's time goes, inside the web process: ``python -m lab.request_profile``.

Run by ``loadtest_scale --profile`` in a process of its own with the stack's production settings
(DEBUG off, cached templates, the FAISS index, photo search through the query worker), so that it
profiles what gunicorn runs. For each kind it sends requests through Django's test client (no
nginx, no gunicorn) and reports per request: wall and CPU time, SQL queries and their time,
template rendering, JSON encoding, the index search, and the functions with the most time of
their own (cProfile); then ``EXPLAIN ANALYZE`` of each distinct SQL statement seen (its slowest
instance), so a plan that reads too much at this catalogue size shows. The functions' times
are CPU time (of this process), so the figures hold on a busy machine; SQL time is wall time.

Arguments: ``--requests N`` per kind, ``--json FILE`` (the traffic: product ids, pages, photo
paths; written by loadtest_scale), ``--out FILE`` (the report).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# pstats keys: (file, line, function). Cumulative time of these = the part of the request.
PARTS: dict[str, Callable[[tuple[str, int, str]], bool]] = {
    "template": lambda k: k[0].endswith("django/template/backends/django.py") and k[2] == "render",
    "json": lambda k: k[0].endswith("json/encoder.py") and k[2] == "encode",
    "index": lambda k: (
        k[0].endswith("visualsearch/index/loading.py") and k[2] in ("similar_to_product", "similar_to_vector")
    ),
    "query worker": lambda k: k[0].endswith("visualsearch/tasks.py") and k[2] == "__call__",
    "sql": lambda k: k[0].endswith("django/db/backends/utils.py") and k[2] == "_execute_with_wrappers",
}


@dataclass
class Query:
    sql: str
    params: Any
    ms: float


@dataclass
class KindProfile:
    kind: str
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    queries: list[list[Query]] = field(default_factory=list)
    parts_ms: dict[str, float] = field(default_factory=dict)  # per request
    top: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


@contextmanager
def captured_queries(into: list[Query]) -> Iterator[None]:
    from django.db import connection

    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            into.append(Query(sql, params, 1000 * (time.perf_counter() - started)))

    with connection.execute_wrapper(wrapper):
        yield


def shape(sql: str) -> str:
    """A statement with its literals and IN lists folded, to group repeats."""
    sql = re.sub(r"IN \([^)]*\)", "IN (…)", sql)
    return re.sub(r"\b\d+\b", "N", sql)


def profile_kind(kind: str, make: Callable[[random.Random], tuple[str, str, dict]], count: int) -> KindProfile:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    result = KindProfile(kind)

    def call(request: tuple[str, str, dict]) -> int:
        method, path, data = request
        if method == "POST":
            return client.post(path, data=data).status_code
        return client.get(path).status_code

    call(make(random.Random(-1)))  # warm-up
    # CPU time, not wall time: on a shared machine the wall clock charges other processes'
    # time slices to whichever function was running.
    profiler = cProfile.Profile(time.process_time)
    for i in range(count):
        request = make(random.Random(i))
        queries: list[Query] = []
        with captured_queries(queries):
            wall, cpu = time.perf_counter(), time.process_time()
            profiler.enable()
            status = call(request)
            profiler.disable()
            result.cpu_ms.append(1000 * (time.process_time() - cpu))
            result.wall_ms.append(1000 * (time.perf_counter() - wall))
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.queries.append(queries)
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    for part, matches in PARTS.items():
        total = sum(ct for key, (_cc, _nc, _tt, ct, _callers) in entries.items() if matches(key))
        result.parts_ms[part] = 1000 * total / count
    own = sorted(entries.items(), key=lambda item: -item[1][2])[:15]
    result.top = [
        f"{1000 * tt / count:7.2f} ms own, {1000 * ct / count:7.2f} cumulative  {Path(f).name}:{line} {name}"
        for (f, line, name), (_cc, _nc, tt, ct, _callers) in own
    ]
    return result


def explain(queries: list[Query]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of each distinct statement's slowest instance (SELECTs only)."""
    from django.db import connection

    slowest: dict[str, Query] = {}
    for q in queries:
        key = shape(q.sql)
        if q.sql.lstrip().upper().startswith("SELECT") and (key not in slowest or q.ms > slowest[key].ms):
            slowest[key] = q
    out = []
    for q in sorted(slowest.values(), key=lambda q: -q.ms):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q.sql, q.params)
            plan = [row[0] for row in cursor.fetchall()]
        out.append(f"-- {q.ms:.2f} ms when profiled: {q.sql[:400]}")
        out += [f"   {line}" for line in plan]
    return out


def report(profiles: list[KindProfile]) -> list[str]:
    import statistics

    out = []
    for p in profiles:
        n = len(p.wall_ms)
        queries = [len(qs) for qs in p.queries]
        sql_ms = [sum(q.ms for q in qs) for qs in p.queries]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in p.parts_ms.items())
        out.append(
            f"{p.kind}: n {n}, wall p50 {statistics.median(p.wall_ms):.1f} ms, CPU p50 "
            f"{statistics.median(p.cpu_ms):.1f} ms (CPU in: {parts} ms per request), "
            f"SQL queries {statistics.median(queries):.0f} (min {min(queries)}, max {max(queries)}), "
            f"SQL time p50 {statistics.median(sql_ms):.1f} ms, statuses {p.statuses}"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--traffic", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    import django

    django.setup()
    traffic = json.loads(Path(args.traffic).read_text())
    ids, pages = traffic["product_ids"], traffic["pages"]
    photos = [Path(p).read_bytes() for p in traffic["photos"]]

    def photo(rng: random.Random) -> tuple[str, str, dict]:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return "POST", "/api/search/photo?k=5", {"image": SimpleUploadedFile("p.jpg", rng.choice(photos), "image/jpeg")}

    kinds: dict[str, Callable[[random.Random], tuple[str, str, dict]]] = {
        "catalogue": lambda rng: ("GET", f"/?page={rng.randint(1, pages)}", {}),
        "similar_page": lambda rng: ("GET", f"/products/{rng.choice(ids)}/similar/", {}),
        "similar_api": lambda rng: ("GET", f"/api/products/{rng.choice(ids)}/similar?k=5", {}),
        "photo": photo,
    }
    profiles = [profile_kind(kind, make, args.requests) for kind, make in kinds.items()]
    lines = ["# request profile (in-process, production settings)", *report(profiles)]
    for p in profiles:
        lines += ["", f"## {p.kind}: functions by own time, per request", *p.top]
        lines += ["", f"## {p.kind}: EXPLAIN ANALYZE", *explain([q for qs in p.queries for q in qs])]
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
