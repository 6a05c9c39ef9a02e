"""Real processes for tests: Celery workers, private Redis servers and PostgreSQL clusters.

Fault tests run their own servers (a redis-server on a free port, a throwaway PostgreSQL
cluster made with initdb in a temporary folder); they never stop the machine's shared ones.
Every process is started in its own session so that it can be killed with its children.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from visualsearch.conf import vs_settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# Redis databases a test run may lease for a worker's broker (0 is the default one), and the
# database that holds the leases: parallel runs on one machine never consume each other's tasks.
BROKER_DBS = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
LEASES_DB = 15
LEASE_SECONDS = 1800


def with_redis_db(url: str, number: int) -> str:
    return urlsplit(url)._replace(path=f"/{number}").geturl()


@contextlib.contextmanager
def leased_redis_db(base_url: str, pinned: int | None = None) -> Iterator[str]:
    """A Redis database of this run's own on ``base_url``'s server (``pinned``, or the first of
    BROKER_DBS no other run holds), empty, and emptied again after. LookupError when every
    one is leased."""
    import redis

    leases = redis.Redis.from_url(with_redis_db(base_url, LEASES_DB))
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    candidates = (pinned,) if pinned is not None else BROKER_DBS
    number = next(
        (n for n in candidates if leases.set(f"lookalike:worker-test-db:{n}", token, nx=True, ex=LEASE_SECONDS)),
        None,
    )
    if number is None:
        raise LookupError(f"every Redis database in {candidates} is leased by another test run")
    url = with_redis_db(base_url, number)
    redis.Redis.from_url(url).flushdb()
    try:
        yield url
    finally:
        redis.Redis.from_url(url).flushdb()
        leases.delete(f"lookalike:worker-test-db:{number}")


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process to reach the database Django is using now
    (inside a test: the test database)."""
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def app_env(database: str, broker: str, **extra: str) -> dict[str, str]:
    """Environment for a project process (worker, gunicorn) sharing the test's media and model."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "test-secret-key",
        "DJANGO_ALLOWED_HOSTS": "*",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": database,
        "REDIS_URL": broker,
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VISUALSEARCH_MODEL_DIR": str(vs_settings.MODEL_DIR),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    env.update(extra)
    return env


@dataclass
class ManagedProcess:
    """A child process in its own session, its output in a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (no cleanup of any kind)."""
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start_process(name: str, command: list[str], env: dict[str, str], log_dir: Path | None = None) -> ManagedProcess:
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="lookalike-proc-"))
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    handle = log_path.open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return ManagedProcess(name, process, log_path)


@dataclass
class Worker(ManagedProcess):
    hostname: str = ""

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"worker exited early:\n{self.log()[-4000:]}")
            return " ready." in self.log()

        wait_until(ready, timeout, what=f"worker {self.hostname} to be ready")


def start_worker(
    database: str,
    broker: str,
    *,
    queues: str = "celery,query",
    concurrency: int = 1,
    log_dir: Path | None = None,
    **env: str,
) -> Worker:
    """A real Celery worker process on the given database and broker; wait_ready() before use."""
    hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "--pool",
        "prefork",
        "-l",
        "info",
        "-n",
        hostname,
        "--without-gossip",
        "--without-mingle",
    ]
    started = start_process("worker", command, app_env(database, broker, **env), log_dir)
    return Worker(started.name, started.process, started.log_path, hostname)


@contextlib.contextmanager
def publishing_to(broker: str) -> Iterator[None]:
    """Make this (test) process send tasks to a real broker instead of running them eagerly."""
    from celery.result import allow_join_result

    from config.celery import app

    saved = {
        "eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "broker_url": app.conf.broker_url,
        "result_backend": app.conf.result_backend,
        "task_always_eager": app.conf.task_always_eager,
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=broker, result_backend=broker, task_always_eager=False)
    _forget_broker_connections(app)
    try:
        # This process is the worker's client here, so waiting on a result is allowed. Celery's
        # "would block" guard is one flag for the whole process: an eager task running in a
        # background thread (a reindex started by an earlier test) sets it while it runs, and
        # two of them overlapping can leave it set ("Never call result.get() within a task!").
        with allow_join_result():
            yield
    finally:
        settings.CELERY_TASK_ALWAYS_EAGER = saved["eager"]
        app.conf.update(
            broker_url=saved["broker_url"],
            result_backend=saved["result_backend"],
            task_always_eager=saved["task_always_eager"],
        )
        _forget_broker_connections(app)


def _forget_broker_connections(app) -> None:
    """Drop the app's pooled broker connections, producers and result backend so that the
    next publish uses ``app.conf.broker_url`` / ``result_backend`` as they are now.

    The app caches its connection pool, its producer pool and its result backend (the
    latter is a plain property over ``_backend_cache`` / ``_local.backend``: ``del
    app.backend`` cannot reset it), and kombu keeps a registry of pools per broker address in
    which a pool closed with ``force_close_all()`` refuses every later publish ("Acquire on
    closed pool"): all of them are reset here.
    """
    import kombu.pools

    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    vars(app._local).pop("backend", None)
    kombu.pools.reset()


@dataclass
class RedisServer:
    """A private redis-server on a free port (never the machine's shared one)."""

    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = start_process("redis", command, dict(os.environ))
        wait_until(self.ping, 15, what=f"redis on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.kill()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb in a temporary folder, trust auth, free port)."""

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lookalike-pg-")))

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        subprocess.run(
            _as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        return self

    def start(self) -> PostgresCluster:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.directory / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]), capture_output=True
        )

    def create_database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(self.url())
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
