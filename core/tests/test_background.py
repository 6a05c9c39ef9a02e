"""core.background: one worker thread runs submitted jobs in order, hands errors to the job's
``on_error`` without dying, and closes its database connections after each job."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from core.background import THREAD_NAME, BackgroundRunner


def test_jobs_run_in_order_on_one_thread_and_submit_returns_at_once():
    runner = BackgroundRunner()
    release = threading.Event()
    seen: list[tuple[int, str]] = []

    def job(n: int) -> int:
        release.wait(5)
        seen.append((n, threading.current_thread().name))
        return n * 10

    futures = [runner.submit(job, n) for n in range(3)]
    assert seen == [] and not futures[0].done()  # nothing waited for the jobs
    release.set()
    assert runner.wait_idle(5)
    assert [f.result() for f in futures] == [0, 10, 20]
    assert seen == [(0, THREAD_NAME), (1, THREAD_NAME), (2, THREAD_NAME)]


def test_an_error_goes_to_on_error_and_the_thread_carries_on():
    runner = BackgroundRunner()
    recorded: list[BaseException] = []

    def broken() -> None:
        raise ValueError("bad row")

    failed = runner.submit(broken, on_error=recorded.append)
    ok = runner.submit(lambda: "still alive")
    assert runner.wait_idle(5)
    assert isinstance(recorded[0], ValueError) and str(recorded[0]) == "bad row"
    with pytest.raises(ValueError):
        failed.result()
    assert ok.result() == "still alive"


def test_a_failing_on_error_is_logged_not_fatal(caplog):
    runner = BackgroundRunner()

    def on_error(exc: BaseException) -> None:
        raise RuntimeError("cannot record")

    runner.submit(lambda: 1 / 0, on_error=on_error, name="divide")
    after = runner.submit(lambda: 2)
    assert runner.wait_idle(5) and after.result() == 2
    assert "background job divide failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_thread_closes_its_database_connection_after_each_job():
    runner = BackgroundRunner()
    used: list[object] = []

    def query() -> int:
        wrapper = connections["default"]  # this thread's own
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            used.append(wrapper)
            return cursor.fetchone()[0]

    assert runner.submit(query).result(timeout=10) == 1
    assert runner.wait_idle(5)
    assert used[0] is not connections["default"]  # not the test's connection
    assert used[0].connection is None  # closed by the thread


def test_wait_idle_times_out_while_a_job_runs():
    runner = BackgroundRunner()
    release = threading.Event()
    runner.submit(release.wait, 5)
    assert not runner.wait_idle(0.2)
    release.set()
    assert runner.wait_idle(5)
