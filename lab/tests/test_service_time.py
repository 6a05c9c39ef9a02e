"""lab.service_time: CPU time per part of the stack, read from /proc, and one request at a time."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
from django.db import connection

from lab import service_time


def test_a_process_tree_holds_the_children_and_their_cpu_time_is_metered() -> None:
    # A parent whose child waits for a line on stdin, burns 0.4 s of CPU, says so, and sleeps.
    burn = (
        "import sys, time\nsys.stdin.readline()\nt = time.process_time()\n"
        "while time.process_time() - t < 0.4: pass\nprint('done', flush=True)\ntime.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(service_time.process_tree(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        meter = service_time.CpuMeter({"tree": lambda: service_time.process_tree(parent.pid)})
        before = meter.read()
        assert len(before["tree"]) == 2  # the parent and its child
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"
        spent = service_time.CpuMeter.spent(before, meter.read())["tree"]
        assert 0.35 <= spent <= 2.0
    finally:
        for pid in reversed(service_time.process_tree(parent.pid)):
            os.kill(pid, 9)
        parent.wait()
    assert service_time.cpu_seconds(parent.pid) == 0.0  # gone: nothing to read


@pytest.mark.django_db
def test_the_databases_backends_are_found_but_not_our_own() -> None:
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )
    try:
        backends = service_time.postgres_backends()
        assert other.get_backend_pid() in backends
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] not in backends
    finally:
        other.close()


def test_one_request_at_a_time_is_timed_and_metered() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status = 200 if self.path != "/fail" else 500
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        meter = service_time.CpuMeter({"gunicorn": lambda: [os.getpid()]})
        cost = service_time.kind_cost(
            "catalogue",
            lambda rng: ("GET", "/ok", None, {}),
            port=port,
            direct_port=port,
            meter=meter,
            count=5,
        )
        assert len(cost.wall_ms) == len(cost.direct_ms) == 5 and cost.errors == 0
        assert cost.cpu_ms["gunicorn"] >= 0.0
        failing = service_time.kind_cost(
            "photo", lambda rng: ("GET", "/fail", None, {}), port=port, direct_port=port, meter=meter, count=3
        )
        assert failing.errors == 6 and not failing.wall_ms
        text = "\n".join(service_time.lines([cost, failing]))
        assert "catalogue     n    5  wall p50" in text and "photo         n    0" in text and "errors 6" in text
    finally:
        server.shutdown()
