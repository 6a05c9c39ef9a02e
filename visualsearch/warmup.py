"""Loading the model before the first photo search needs it (load times: docs/benchmarks.md).

The query worker does it when it starts (``visualsearch.tasks``: celery ``worker_ready``, or
each prefork child); in the embedded default (no broker: queries embed in the web process)
the development server's serving process does it in a background thread from
``VisualSearchConfig.ready`` (``start_dev_server_warm_up``). Never in tests (no runserver
there), never in management commands, and off with VISUALSEARCH_WARM_UP=0.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)


def warm_up_model(reason: str = "") -> bool:
    """Load the model and run one dummy batch; False (logged) when it cannot be loaded."""
    from visualsearch.ml import embedder

    started = time.perf_counter()
    try:
        embedder.warm_up()
    except Exception as exc:  # missing weights, a broken install: the first search will say so
        logger.warning("visualsearch: model warm-up failed (%s): %s", reason or "start", exc)
        return False
    logger.info("visualsearch: model warmed up in %.1f s (%s)", time.perf_counter() - started, reason or "start")
    return True


def is_dev_server_process(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether this process serves ``manage.py runserver``'s requests: the autoreloader's
    child (RUN_MAIN=true), or the only process with --noreload."""
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


def start_dev_server_warm_up(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> threading.Thread | None:
    """In the embedded default's development server, warm the model up in a background
    thread (the server answers meanwhile). Returns the thread, or None where nothing starts."""
    from visualsearch.conf import vs_settings

    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if not (vs_settings.WARM_UP and vs_settings.QUERY_IN_PROCESS and is_dev_server_process(argv, environ)):
        return None
    thread = threading.Thread(target=warm_up_model, args=("development server",), name="visualsearch-warm-up")
    thread.daemon = True
    thread.start()
    return thread
