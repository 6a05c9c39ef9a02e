"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Each worker loads its search index in the background as soon as it starts, so the first
shopper does not wait for 43k embeddings to be read (~2.5 s).
"""

import os
import threading

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
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
