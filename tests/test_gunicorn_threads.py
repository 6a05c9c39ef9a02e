"""config/gunicorn.py gives each web process one BLAS / OpenMP thread: numpy's OpenBLAS, read
back with threadpoolctl in a fresh interpreter that loads the config file as gunicorn does
(before the application imports numpy). More threads spin while a photo search waits for
the query worker (docs/benchmarks.md, "BLAS threads in the web process")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.servers import ROOT

PROBE = """
import json, runpy
runpy.run_path("config/gunicorn.py")
import numpy, threadpoolctl
numpy.ones((64, 64)) @ numpy.ones((64, 64))
print(json.dumps([[pool["internal_api"], pool["num_threads"]] for pool in threadpoolctl.threadpool_info()]))
"""


def _pools(**env: str) -> list[tuple[str, int]]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k != "GUNICORN_BLAS_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return [tuple(pool) for pool in json.loads(out.stdout.strip().splitlines()[-1])]


def test_a_web_process_gets_one_blas_thread() -> None:
    pools = _pools()
    assert ("openblas", 1) in pools
    assert all(threads == 1 for _api, threads in pools)


def test_the_environment_still_wins() -> None:
    assert ("openblas", 2) in _pools(OPENBLAS_NUM_THREADS="2")
    assert ("openblas", 2) in _pools(GUNICORN_BLAS_THREADS="2")
