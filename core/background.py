"""Jobs run in a background thread of this process: the embedded default's stand-in for a
Celery worker (no broker: ``CELERY_TASK_ALWAYS_EAGER``), so that a request that starts a long
job (a reindex, an import) returns at once and the job's page shows its progress.

One worker thread per process runs the submitted jobs one after another, in order. Each job
runs outside any request; afterwards the thread closes its database connections (they are
the thread's own). An exception is logged and handed to the job's ``on_error`` so that the
job can record it where staff look; it never kills the thread.

A job lives and dies with its process: a job still waiting when the process exits is lost
(the reindex and import pages show it as running; with a broker, jobs survive restarts).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

THREAD_NAME = "background-jobs"


@dataclass
class _Job:
    fn: Callable[[], Any]
    name: str
    on_error: Callable[[BaseException], None] | None
    future: Future = field(default_factory=Future)


class BackgroundRunner:
    """A queue and the one thread that works through it (started on the first ``submit``,
    again after a fork)."""

    def __init__(self, thread_name: str = THREAD_NAME) -> None:
        self.thread_name = thread_name
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        on_error: Callable[[BaseException], None] | None = None,
        **kwargs: Any,
    ) -> Future:
        """Queue ``fn(*args, **kwargs)``; returns a Future of its result."""
        job = _Job(lambda: fn(*args, **kwargs), name or getattr(fn, "__name__", repr(fn)), on_error)
        with self._lock:
            if self._pid != os.getpid():  # forked (gunicorn, a test server): the thread stayed behind
                self._queue, self._thread, self._pid = queue.Queue(), None, os.getpid()
            self._queue.put(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
                self._thread.start()
        return job.future

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued job has run (tests, shutdown); False on timeout."""
        done = threading.Event()
        with self._lock:
            pending = self._queue.unfinished_tasks
        if not pending:
            return True

        def joined() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=joined, daemon=True).start()
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._run(job)
            finally:
                self._queue.task_done()

    def _run(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        close_old_connections()
        try:
            result = job.fn()
        except BaseException as exc:
            logger.exception("background job %s failed", job.name)
            if job.on_error is not None:
                try:
                    job.on_error(exc)
                except Exception:
                    logger.exception("recording the failure of background job %s failed", job.name)
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        finally:
            connections.close_all()  # this thread's connections only


runner = BackgroundRunner()


def background_submit(
    fn: Callable[..., Any],
    *args: Any,
    name: str = "",
    on_error: Callable[[BaseException], None] | None = None,
    **kwargs: Any,
) -> Future:
    """Run ``fn(*args, **kwargs)`` in this process's background thread."""
    return runner.submit(fn, *args, name=name, on_error=on_error, **kwargs)


def background_wait_idle(timeout: float | None = None) -> bool:
    return runner.wait_idle(timeout)
