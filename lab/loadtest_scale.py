"""The whole request at scale (``python manage.py loadtest_scale --products 250000``).

1. The catalogue (``lab.scale_catalogue``): N synthetic products in PostgreSQL with vectors
   made from real embeddings of a sample of the shared catalogue, the PCA projection fitted,
   the FAISS artifact built by the production service (probe counts tuned on it).
2. The stack, as deployed (docker-compose.yml): nginx (deploy/nginx/nginx.conf rendered for
   127.0.0.1 and a free port), gunicorn (config/gunicorn.py, its default workers × threads,
   the FAISS index), a Celery worker on the "query" queue (photo-search embeddings, solo
   pool), the broker on REDIS_URL. Rate limits are off (every shopper is 127.0.0.1).
3. The bare forward pass (``embed_batch`` of one photo, the default engine), timed in this
   process before the traffic, as the photo-search target's baseline.
4. 8 concurrent shoppers through nginx, each a keep-alive connection picking requests at
   random: catalogue pages, find similar page and API, photo search (API, a real catalogue
   photo); bounded by a request count and a time limit, 127.0.0.1 only. Latency per kind.
5. Cold start: gunicorn stopped, the page cache dropped (root only: ``sync; echo 3 >
   /proc/sys/vm/drop_caches``), one worker started; seconds until it answers find similar.
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from lab import service_time
from visualsearch.conf import vs_settings

ROOT = Path(settings.BASE_DIR)
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
KINDS = ("catalogue", "similar_page", "similar_api", "photo")
WEIGHTS = (3, 3, 3, 1)  # a shopper browses more than they upload photos
# The targets: (kind, percentile) → limit in ms; photo search: × the bare forward pass.
TARGET_MS = {("similar_api", 50): 25.0, ("similar_api", 99): 100.0, ("catalogue", 50): 60.0}
PHOTO_TARGET_RATIO = 1.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A child process in its own session (stopped with its children), output in a log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def start(name: str, command: list[str], env: dict[str, str], folder: Path) -> Process:
    log_path = folder / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as handle:
        popen = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name, popen, log_path)


def get(port: int, path: str, timeout: float = 5) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def wait_for(port: int, path: str, process: Process, timeout: float, interval: float = 0.05) -> float:
    """Seconds until ``path`` answers 200 (RuntimeError when the process dies or time runs out)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if get(port, path) == 200:
            return time.perf_counter() - started
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        time.sleep(interval)
    raise RuntimeError(f"{process.name} did not answer {path} within {timeout:.0f} s:\n{process.tail()}")


def database_url() -> str:
    s = connection.settings_dict
    auth = s.get("USER") or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def app_env(folder: Path, broker: str) -> dict[str, str]:
    """The production settings for this machine's processes (DEBUG off, FAISS index, the
    synthetic vectors served, rate limits off: every shopper here is 127.0.0.1)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "loadtest-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_BEHIND_PROXY": "1",
        "DJANGO_SERVE_MEDIA": "0",
        "DJANGO_STATIC_ROOT": str(folder / "static"),
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_RATELIMIT_ENABLED": "0",
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker,
        "VISUALSEARCH_INDEX_CLASS": "visualsearch.index.faiss_index.FaissIndex",
        "VISUALSEARCH_INDEX_SYNTHETIC": "1",
        "VISUALSEARCH_ARTIFACT_CACHE_DIR": str(folder / "index-cache"),
        "VISUALSEARCH_QUERY_IN_PROCESS": "0",
        "VISUALSEARCH_MODEL_DIR": str(vs_settings.MODEL_DIR),
        "GUNICORN_ACCESSLOG": "",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("CELERY_BROKER_URL", None)
    env.pop("LOOKALIKE_LAB", None)
    return env


def nginx_conf(folder: Path, port: int, upstream: str) -> Path:
    """The repo's nginx.conf for this machine (port, upstream, folders); every replaced line
    must be there."""
    text = NGINX_CONF.read_text()
    replacements = [
        ("worker_processes auto;", f"worker_processes 1;\nuser {getpass.getuser()};"),
        ("pid /tmp/nginx.pid;", f"pid {folder}/nginx.pid;"),
        ("error_log /dev/stderr warn;", f"error_log {folder}/nginx-error.log warn;"),
        ("access_log /dev/stdout;", "access_log off;"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;"),
        ("server web:8000;", f"server {upstream};"),
        ("alias /app/staticfiles/;", f"alias {folder}/static/;"),
        ("alias /app/staticfiles/$1;", f"alias {folder}/static/$1;"),
        ("alias /app/media/;", f"alias {settings.MEDIA_ROOT}/;"),
    ]
    for old, new in replacements:
        if old not in text:
            raise RuntimeError(f"{NGINX_CONF} no longer has {old!r}: update lab.loadtest_scale.nginx_conf")
        text = text.replace(old, new)
    # Every shopper here is 127.0.0.1: the per-client photo-search flood limit is lifted, as
    # Django's rate limits are (a zone of its own, far above the traffic this command sends).
    text = text.replace("zone=photo_search:10m rate=30r/m;", "zone=photo_search:10m rate=100000r/m;")
    temp_paths = "".join(
        f"    {name}_temp_path {folder}/nginx-{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp_paths, 1)
    conf = folder / "nginx.conf"
    conf.write_text(text)
    return conf


@dataclass
class Stack:
    folder: Path
    env: dict[str, str]
    port: int  # nginx
    gunicorn_port: int
    processes: dict[str, Process] = field(default_factory=dict)

    def stop(self) -> None:
        for name in ("nginx", "gunicorn", "query_worker"):
            if name in self.processes:
                self.processes[name].stop()

    def start_gunicorn(self, **extra: str) -> Process:
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.gunicorn_port}", **extra}
        command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
        self.processes["gunicorn"] = start("gunicorn", command, env, self.folder)
        return self.processes["gunicorn"]


def stack_start(folder: Path, broker: str, probe_path: str, log: Callable[[str], None]) -> Stack:
    env = app_env(folder, broker)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    stack = Stack(folder, env, free_port(), free_port())
    try:
        worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "query", "--pool", "solo"]
        worker += ["-n", f"loadtest-query-{uuid.uuid4().hex[:6]}@%h", "-l", "warning"]
        stack.processes["query_worker"] = start("query_worker", worker, env, folder)
        gunicorn = stack.start_gunicorn()
        wait_for(stack.gunicorn_port, "/healthz", gunicorn, 120)
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = nginx_conf(folder, stack.port, f"127.0.0.1:{stack.gunicorn_port}")
        nginx = start("nginx", [nginx_bin, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"], {}, folder)
        stack.processes["nginx"] = nginx
        wait_for(stack.port, "/healthz", nginx, 30)
        log("stack up: nginx → gunicorn, query worker; loading the index in each web worker…")
        wait_for(stack.port, probe_path, gunicorn, 600)
    except BaseException:
        stack.stop()
        raise
    return stack


def stack_meter(stack: Stack, broker: str) -> service_time.CpuMeter:
    """CPU time per part of the running stack (gunicorn, the query worker, nginx, this
    database's PostgreSQL backends, the broker's Redis server)."""
    redis = service_time.redis_pid(broker)

    def tree(name: str) -> Callable[[], list[int]]:
        return lambda: service_time.process_tree(stack.processes[name].popen.pid) if name in stack.processes else []

    return service_time.CpuMeter(
        {
            "gunicorn": tree("gunicorn"),
            "query_worker": tree("query_worker"),
            "nginx": tree("nginx"),
            "postgres": service_time.postgres_backends,
            "redis": lambda: [redis] if redis else [],
        }
    )


def profile_run(stack: Stack, traffic: Traffic, photo_paths: list[Path], requests: int, out: Path) -> list[str]:
    """``lab.request_profile`` in a process with the stack's settings (production: DEBUG off,
    the FAISS index, photo search through the query worker); its report goes to ``out``, its
    summary lines are returned."""
    import json

    spec = stack.folder / "profile-traffic.json"
    spec.write_text(
        json.dumps(
            {"product_ids": traffic.product_ids, "pages": traffic.pages, "photos": [str(p) for p in photo_paths]}
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "lab.request_profile", "--requests", str(requests)]
    command += ["--traffic", str(spec), "--out", str(out.resolve())]
    # The BLAS threads a gunicorn worker gets (config/gunicorn.py), so that the profile's CPU is its.
    blas = dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1")
    subprocess.run(command, cwd=ROOT, env={**blas, **stack.env}, check=True, timeout=1800)
    summary = [line for line in out.read_text().splitlines() if line and not line.startswith("#")]
    kinds = [line for line in summary if line.split(":")[0] in KINDS][: len(KINDS)]
    return [f"  profiled in-process ({out}): {line}" for line in kinds]


def wait_for_photo_search(stack: Stack, photo: bytes, timeout: float = 300) -> float:
    """Seconds until a photo search answers 200 (the query worker has loaded the model)."""
    started = time.perf_counter()
    body, content_type = multipart("image", "photo.jpg", photo)
    worker = stack.processes["query_worker"]
    while time.perf_counter() - started < timeout:
        if not worker.alive():
            raise RuntimeError(f"the query worker exited:\n{worker.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
            conn.request("POST", "/api/search/photo?k=5", body=body, headers={"Content-Type": content_type})
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        if status == 200:
            return time.perf_counter() - started
        time.sleep(1)
    raise RuntimeError(f"photo search did not answer within {timeout:.0f} s; query worker:\n{worker.tail()}")


# --- the shoppers ---------------------------------------------------------------------------


def multipart(field_name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Traffic:
    product_ids: list[int]
    pages: int  # catalogue pages to pick from
    photos: list[bytes]


@dataclass
class LoadResult:
    latencies_ms: dict[str, list[float]]
    errors: dict[str, int]
    seconds: float
    first_error: dict[str, str] = field(default_factory=dict)  # per kind: the first failure seen

    def percentile(self, kind: str, q: float) -> float:
        values = self.latencies_ms.get(kind) or []
        return float(np.percentile(values, q)) if values else float("nan")


def request_for(kind: str, rng: random.Random, traffic: Traffic) -> tuple[str, str, bytes | None, dict[str, str]]:
    """One request of ``kind``: method, path, body, headers."""
    headers = {"Host": "127.0.0.1"}
    if kind == "catalogue":
        return "GET", f"/?page={rng.randint(1, traffic.pages)}", None, headers
    if kind == "similar_page":
        return "GET", f"/products/{rng.choice(traffic.product_ids)}/similar/", None, headers
    if kind == "similar_api":
        return "GET", f"/api/products/{rng.choice(traffic.product_ids)}/similar?k=5", None, headers
    body, headers["Content-Type"] = multipart("image", "photo.jpg", rng.choice(traffic.photos))
    return "POST", "/api/search/photo?k=5", body, headers


def shoppers_run(
    port: int,
    traffic: Traffic,
    *,
    shoppers: int = 8,
    requests: int = 2000,
    seconds: float = 180,
    seed: int = 0,
    think: float = 0.0,
) -> LoadResult:
    """``shoppers`` threads, each one keep-alive connection through nginx, until ``requests``
    were sent in all or ``seconds`` passed. ``think``: each shopper waits this long on average
    (exponentially distributed) after each answer before its next click; 0 is a closed loop
    with no pause (a stress test: as many requests as the stack can answer)."""
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    errors = dict.fromkeys(KINDS, 0)
    first_error: dict[str, str] = {}
    lock = threading.Lock()
    sent = [0]
    deadline = time.monotonic() + seconds

    def shopper(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if think > 0:  # shoppers arrive spread out, not all at once
            time.sleep(min(rng.expovariate(1 / think), max(0.0, deadline - time.monotonic())))
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= requests:
                    break
                sent[0] += 1
            kind = rng.choices(KINDS, WEIGHTS)[0]
            method, path, body, headers = request_for(kind, rng, traffic)
            started = time.perf_counter()
            failure = ""
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                if response.status != 200:
                    failure = f"{response.status} {content[:300]!r}"
            except (OSError, http.client.HTTPException) as exc:
                failure = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = 1000 * (time.perf_counter() - started)
            with lock:
                if not failure:
                    latencies[kind].append(elapsed)
                else:
                    errors[kind] += 1
                    first_error.setdefault(kind, f"{method} {path}: {failure}")
            if think > 0:
                time.sleep(min(rng.expovariate(1 / think), max(0.0, deadline - time.monotonic())))
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=shopper, args=(n,), daemon=True) for n in range(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return LoadResult(latencies, errors, time.perf_counter() - started, first_error)


def forward_pass_ms(photos: list[bytes], repeat: int) -> list[float]:
    """The bare forward pass: ``embed_batch`` of one prepared photo (default engine), after a warm-up."""
    from visualsearch.ml import embedder
    from visualsearch.ml.preprocessing import bytes_to_model_input

    pixels = [bytes_to_model_input(photo)[None] for photo in photos]
    embedder.embed_batch(pixels[0])
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        embedder.embed_batch(pixels[i % len(pixels)])
        times.append(1000 * (time.perf_counter() - started))
    return times


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only); whether it was done."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


@dataclass
class ColdStart:
    seconds: float
    cache_dropped: bool


def cold_start(stack: Stack, probe_path: str, *, drop: bool = True) -> ColdStart:
    """gunicorn stopped, the page cache dropped (``drop``), one worker started: seconds until
    it answers ``probe_path`` (find similar: Python, Django and the index loaded from the artifact)."""
    stack.processes["gunicorn"].stop()
    dropped = drop_page_cache() if drop else False
    gunicorn = stack.start_gunicorn(GUNICORN_WORKERS="1")
    return ColdStart(wait_for(stack.gunicorn_port, probe_path, gunicorn, 600, interval=0.02), dropped)


# --- the report -----------------------------------------------------------------------------


def cpu_description() -> str:
    """The CPU as ``lscpu`` names it, with its vector instruction sets (from /proc/cpuinfo)."""
    model, flags = "unknown CPU", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"]
    present = [f for f in wanted if f in flags]
    return f"{model}, {os.cpu_count()} CPUs, flags: {' '.join(present) or 'no AVX2'}"


@dataclass
class Phase:
    """One load model's traffic: its name, what it means, and what it measured."""

    name: str
    description: str
    load: LoadResult
    load_average: tuple[float, float]  # 1-minute load average before and after
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per part of the stack


@dataclass
class Report:
    products: int
    build_s: dict[str, float]
    tuning: dict[str, dict]
    forward_ms: list[float]
    phases: list[Phase]
    cold: ColdStart | None
    shoppers: int
    service: list[str] = field(default_factory=list)  # lab.service_time.lines
    target_phase: str = ""  # the phase the targets are read against

    def verdicts(self, load: LoadResult) -> list[tuple[str, float, float, bool]]:
        """(target, measured, limit, met) for each target."""
        forward = statistics.median(self.forward_ms)
        out = []
        names = {"similar_api": "find similar API", "catalogue": "catalogue page"}
        for (kind, q), limit in TARGET_MS.items():
            value = load.percentile(kind, q)
            out.append((f"{names[kind]} p{q} ≤ {limit:.0f} ms", value, limit, value <= limit))
        photo = load.percentile("photo", 50)
        limit = PHOTO_TARGET_RATIO * forward
        target = f"photo search p50 ≤ {PHOTO_TARGET_RATIO}× forward pass ({limit:.0f} ms)"
        out.append((target, photo, limit, photo <= limit))
        return out

    def lines(self) -> list[str]:
        forward = statistics.median(self.forward_ms)
        out = [f"products {self.products:,}; " + ", ".join(f"{k} {v:.0f} s" for k, v in self.build_s.items())]
        for space, t in self.tuning.items():
            out.append(
                f"  FAISS {space} space: nprobe {t['nprobe']} of {t['nlist']} lists, recall {t['recall']:.3f} "
                f"of the exact top {t.get('k', 5)} "
                f"(target {t['target']:.3f}{'' if t['reached'] else ', NOT reached within ' + str(t['bound'])})"
            )
        out.append(f"  machine: {cpu_description()}")
        out.append(f"  bare forward pass (embed_batch of 1 photo): p50 {forward:.0f} ms")
        out.extend(self.service)
        for phase in self.phases:
            load = phase.load
            total = sum(len(v) for v in load.latencies_ms.values())
            cpu = sum(phase.cpu_s.values())
            out.append(
                f"  [{phase.name}] {self.shoppers} shoppers through nginx → gunicorn, {phase.description}: "
                f"{total:,} requests in {load.seconds:.0f} s ({total / max(load.seconds, 1e-9):.1f}/s), "
                f"errors {sum(load.errors.values())}; load average {phase.load_average[0]:.1f} before, "
                f"{phase.load_average[1]:.1f} after (1 min)"
            )
            if phase.cpu_s:
                parts = ", ".join(f"{k} {1000 * v / max(total, 1):.1f}" for k, v in phase.cpu_s.items())
                out.append(
                    f"    the stack used {cpu / max(load.seconds, 1e-9):.2f} of {os.cpu_count()} CPUs; "
                    f"CPU ms per request: {parts}"
                )
            for kind in KINDS:
                n = len(load.latencies_ms[kind])
                p50, p99 = load.percentile(kind, 50), load.percentile(kind, 99)
                extra = f"  ({p50 / forward:.2f}× the forward pass)" if kind == "photo" else ""
                out.append(
                    f"  {kind:<13} n {n:>5}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  errors {load.errors[kind]}{extra}"
                )
            out.extend(f"  first {kind} error: {error}" for kind, error in load.first_error.items())
        if self.cold is not None:
            how = "page cache dropped" if self.cold.cache_dropped else "page cache NOT dropped"
            out.append(f"  cold start of a web worker ({how}): {self.cold.seconds:.1f} s to its first find similar")
        if self.phases:
            names = [p.name for p in self.phases]
            out.append(
                f"  targets (read against [{self.target_phase or names[0]}]): "
                + " | ".join(f"[{name}]" for name in names)
            )
            table = [self.verdicts(p.load) for p in self.phases]
            for i, (target, *_rest) in enumerate(table[0]):
                cells = [f"{row[i][1]:8.1f} ms {'PASS' if row[i][3] else 'FAIL'}" for row in table]
                out.append(f"    {target:<52} " + " | ".join(cells))
        return out
