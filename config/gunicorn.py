"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Production runs gunicorn behind the buffering proxy (deploy/nginx/nginx.conf), on the
internal network only: nginx reads each request whole (headers and body, however slowly the
client sends them) before it passes it on, and reads each response at once. So a worker
thread here only ever sees complete requests over a fast local link; slow or idle clients
wait in nginx, which holds thousands of connections cheaply. The limits below are the
second line, for when gunicorn is reached directly anyway.

What a request costs here (figures: docs/benchmarks.md): a catalogue page or find-similar is
tens of milliseconds of Python and PostgreSQL; a photo search mostly waits (for the query
worker's embedding over Celery, up to VISUALSEARCH_QUERY_TIMEOUT), and each process holds the
whole search index in memory (every embedding). Each setting can be overridden by the GUNICORN_<NAME> variable.

Each worker loads its search index in the background as soon as it starts, so the first
shopper does not wait for the embeddings to be read.
"""

import os
import threading


def _int(name: str, default: int) -> int:
    return int(os.environ.get(f"GUNICORN_{name}", default))


# One BLAS / OpenMP thread per web process (numpy's OpenBLAS, FAISS), set before any worker
# imports numpy. A web process's matrix work is small (re-scoring a few hundred candidates,
# one FAISS query); its concurrency comes from the processes and threads below. With more
# BLAS threads, OpenBLAS's idle threads spin after each call: during a photo search's wait
# for the query worker they burned ~60 ms of CPU per search, on the cores the query worker
# needed (docs/benchmarks.md, "BLAS threads in the web process"). The variables already set
# in the environment win.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _variable in BLAS_THREAD_VARIABLES:
    os.environ.setdefault(_variable, os.environ.get("GUNICORN_BLAS_THREADS", "1"))


# The internal address by default: only the proxy on this machine reaches gunicorn. In a
# container the proxy connects over the container network: docker-compose sets
# GUNICORN_BIND=0.0.0.0:8000 there (the port is not published).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# gthread: a few threads per process. Waiting (PostgreSQL, a photo search's Celery result)
# releases the GIL, so one process serves other requests meanwhile, and the search index is
# held once per process, not once per request slot: 2 processes x 4 threads = 8 requests
# at once for the memory of 2. (sync workers would need 8 processes and 8 index copies for
# the same; async workers would need every library to cooperate.) One process per core.
worker_class = "gthread"
workers = _int("WORKERS", 2)
threads = _int("THREADS", 4)
# Open connections per process (in-flight + kept alive). nginx keeps a small pool of
# connections to us; more than this waits in the listen backlog.
worker_connections = _int("WORKER_CONNECTIONS", 200)

# A worker whose main loop does not report for this long is killed and replaced (with
# gthread the loop keeps reporting while its threads work: this catches a wedged process,
# not a slow request). Above the longest legitimate request: a photo search gives up after
# 15 s; nginx's proxy_read_timeout is 30 s too.
timeout = _int("TIMEOUT", 30)
# On SIGTERM (a deploy, `docker compose stop`) requests in flight get this long to finish.
graceful_timeout = _int("GRACEFUL_TIMEOUT", 30)
# Seconds an idle connection is kept open for its next request. Longer than nginx's
# upstream keepalive_timeout (20 s), so that nginx, not gunicorn, closes an idle pooled
# connection: otherwise nginx could send a request on one gunicorn is just closing (a 502).
# Also how long gthread keeps a connection that has not sent its request yet.
keepalive = _int("KEEPALIVE", 30)

# Request head limits (gunicorn answers 400 past them). The longest URLs are catalogue
# pages with a 100-character search and a few facets: well under 4 KB. Browsers send
# ~15 headers; nginx adds 4. Cookies are the session's and the CSRF token.
limit_request_line = _int("LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _int("LIMIT_REQUEST_FIELDS", 50)
limit_request_field_size = _int("LIMIT_REQUEST_FIELD_SIZE", 8190)

# Replace each worker after about this many requests: decoding photos fragments the heap
# (Pillow's large buffers), so a long-lived process only grows. The jitter keeps the two
# workers from restarting together; the replacement warms its index in the background.
max_requests = _int("MAX_REQUESTS", 2000)
max_requests_jitter = _int("MAX_REQUESTS_JITTER", 200)

# The heartbeat file on tmpfs: on a container's overlay filesystem a slow disk write can
# make a healthy worker look dead.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None


def _warm_index() -> None:
    from django.db import close_old_connections

    from visualsearch.index import get_index

    try:
        get_index().ensure_fresh()
    except Exception as exc:  # never keep a worker from serving: the first search loads it then
        print(f"search index warm-up failed: {exc}", flush=True)
    finally:
        close_old_connections()


def post_worker_init(worker) -> None:
    threading.Thread(target=_warm_index, name="index-warmup", daemon=True).start()
