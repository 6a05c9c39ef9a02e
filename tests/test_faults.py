"""Faults of the whole site: PostgreSQL restarted under a running gunicorn. The site answers
503 quickly while the database is away and serves again, in the same worker, once it is back.

The test runs its own servers (a throwaway PostgreSQL cluster, a real gunicorn), never the
machine's shared ones. Visual search's own faults (a worker killed mid-reindex, Redis down or
frozen, a corrupt image, two staff starting a reindex at once): visualsearch/tests/test_faults.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.catalogue import catalogue_dir, catalogue_rows
from tests.support.servers import (
    ROOT,
    PostgresCluster,
    app_env,
    free_port,
    start_process,
    wait_until,
)

pytestmark = pytest.mark.slow


# --- PostgreSQL restarted while the site serves ---------------------------------------------


def _get(url: str, timeout: float = 15) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.monotonic() - started


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _first_product_id(database: str) -> int:
    import psycopg2

    with psycopg2.connect(database) as db, db.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM shop_product")
        found = cursor.fetchone()[0]
    db.close()
    return found


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_postgres_restart_while_serving(tmp_path, real_weights) -> None:
    cluster = PostgresCluster().init().start()
    web = None
    try:
        db = cluster.create_database("lookalike_restart")
        env = app_env(db, "", DJANGO_STATIC_ROOT=str(tmp_path / "static"))  # no broker: tasks run in-process
        _manage(env, "migrate", "--noinput", "-v0")
        _manage(env, "collectstatic", "--noinput", "-v0")
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(row["id"] for row in catalogue_rows(8)))
        _manage(env, "import_catalogue", str(catalogue_dir()), "--ids", str(ids), "-v0")  # embeddings too

        port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "60",
        ]
        web = start_process("gunicorn", command, env, tmp_path)
        base = f"http://127.0.0.1:{port}"

        def serving() -> bool:
            if not web.alive():
                raise RuntimeError(f"gunicorn exited:\n{web.log()[-4000:]}")
            try:
                return _get(base + "/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(serving, 60, what="gunicorn")
        first_id = _first_product_id(db)
        pages = ["/", f"/products/{first_id}/", f"/products/{first_id}/similar/"]
        api = f"/api/products/{first_id}/similar"
        for path in [*pages, "/search/photo/", api, "/healthz"]:
            status, body, _ = _get(base + path)
            assert status == 200, (path, body[:2000])
        workers = _children(web.process.pid)
        assert len(workers) == 1

        cluster.stop("fast")
        for path in pages:
            status, body, seconds = _get(base + path)
            assert status == 503, (path, status, body[:2000])
            assert "Something went wrong on our side" in body, body[:2000]
            assert seconds < 8, (path, seconds)
        status, body, seconds = _get(base + api)
        assert status == 503, body[:2000]
        assert json.loads(body)["error"] == {
            "message": "The service is temporarily unavailable; please try again in a moment.",
            "status": 503,
        }
        assert seconds < 8
        status, body, seconds = _get(base + "/healthz")
        assert status == 503 and '"unavailable"' in body and seconds < 8
        assert body.strip() == '{"status": "unavailable"}'  # no host, port, database or role for strangers
        print(f"with PostgreSQL down, /healthz answered 503 in {seconds:.2f} s")
        # The photo search form may still render from the index in memory; if not, cleanly.
        status, body, seconds = _get(base + "/search/photo/")
        assert status == 200 or "Something went wrong on our side" in body
        assert seconds < 8

        cluster.start()
        for path in [*pages, "/search/photo/", api, "/healthz"]:
            status, body, _ = _get(base + path)
            assert status == 200, (path, status, body[:2000])
        assert web.alive()
        assert _children(web.process.pid) == workers  # the same web worker, not a restarted one
    finally:
        if web is not None:
            web.stop()
        cluster.destroy()
