"""Noise: ``reindex --missing`` with nothing to do answers before loading TensorFlow; the
import prints one summary (no "0%" then "100%" bar lines in a log); the embedded default's
in-memory broker URL names a host (no kombu "No hostname was supplied" warning); Django's
messages are logged once with DEBUG on."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.support.catalogue import stored_catalogue
from visualsearch.ml import embedder
from visualsearch.models import ReindexJob

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("eager", [True, False])
def test_reindex_missing_with_nothing_to_do_never_loads_the_model(monkeypatch, settings, eager: bool) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    stored_catalogue(3)  # every product has a current embedding

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded for nothing")

    monkeypatch.setattr(embedder, "warm_up", no_model)
    out = io.StringIO()
    call_command("reindex", "--missing", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == "Nothing to do: every active product already has a current embedding."
    assert not ReindexJob.objects.exists()


@pytest.mark.django_db
def test_the_import_prints_its_summary_once_without_bar_lines_in_a_log(small_catalogue: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_catalogue", str(small_catalogue), "--limit", "5", "--no-embeddings", stdout=out, stderr=err)
    assert "Importing" not in err.getvalue() and "%|" not in err.getvalue()
    assert out.getvalue().count("Imported 5 rows") == 1


@pytest.mark.slow
def test_the_embedded_default_neither_warns_about_a_hostname_nor_logs_twice(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    code = (
        "import django, logging; django.setup()\n"
        "from django.conf import settings\n"
        "from config.celery import app\n"
        "assert settings.CELERY_TASK_ALWAYS_EAGER\n"
        "conn = app.connection_for_write(); conn.info(); conn.clone(); print(conn.as_uri())\n"
        "logging.getLogger('django.request').warning('Not Found: /favicon.ico')\n"
    )
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "memory://" in result.stdout
    assert "No hostname was supplied" not in result.stderr
    assert result.stderr.count("Not Found: /favicon.ico") == 1  # Django's DEBUG console handler: not twice
