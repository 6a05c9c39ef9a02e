"""Faults of visual search: a worker killed mid-reindex, Redis down or frozen under the site
(browsing and find similar go on, photo search answers 503, staff uploads wait and resume),
a corrupt image in storage, two staff starting a reindex at the same moment.

Each test runs its own servers (a private redis-server, real Celery workers), never the
machine's shared ones. The checks are always the same: nothing lost, nothing duplicated, a
clear answer and no hang. (The whole site with PostgreSQL restarted under it:
tests/test_faults.py.)
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max
from django.test import Client
from django.urls import reverse

from shop.models import Product
from tests.support.catalogue import catalogue_dir, catalogue_photo, catalogue_rows
from tests.support.products import admin_product_form
from tests.support.servers import (
    RedisServer,
    database_url,
    publishing_to,
    start_worker,
    wait_until,
)
from visualsearch.conf import vs_settings
from visualsearch.index import get_index
from visualsearch.models import EmbeddingStatus, IndexChange, ProductEmbedding, ReindexJob
from visualsearch.services import embeddings, reindex

pytestmark = pytest.mark.slow


# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def _import(tmp_path: Path, count: int) -> list[int]:
    """Import ``count`` real catalogue products (no embeddings queued); their ids."""
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(row["id"] for row in catalogue_rows(count)))
    call_command("import_catalogue", str(catalogue_dir()), ids=ids_file, no_embeddings=True, verbosity=0)
    return list(Product.objects.order_by("pk").values_list("pk", flat=True))


def _job_counts(job: ReindexJob) -> dict[str, int]:
    rows = ProductEmbedding.objects.filter(job=job).values_list("status").annotate(n=Count("pk"))
    return {status: n for status, n in rows}


def _index_changes_per_product(after_id: int) -> dict[int, int]:
    rows = IndexChange.objects.filter(id__gt=after_id).values_list("product_id").annotate(n=Count("id"))
    return dict(rows)


def _last_change_id() -> int:
    return IndexChange.objects.aggregate(m=Max("id"))["m"] or 0


def _staff(django_user_model, name: str = "staffer"):
    return django_user_model.objects.create_superuser(name, f"{name}@example.com", "x-secret-123")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- 1. SIGKILL the worker in the middle of a reindex -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_reindex_finishes_without_loss_or_duplicates(
    tmp_path, real_weights, redis_server, settings
) -> None:
    product_ids = _import(tmp_path, 300)
    assert len(product_ids) == 300
    db = database_url(connection.settings_dict)
    first = start_worker(db, redis_server.url, log_dir=tmp_path)
    second = None
    try:
        first.wait_ready()
        before = _last_change_id()
        with publishing_to(redis_server.url):
            job = reindex.reindex_job_start(ReindexJob.Mode.ALL)
        assert job.total == 300

        def some_done() -> bool:
            if not first.alive():
                raise RuntimeError(f"the worker died by itself:\n{first.log()[-4000:]}")
            return _job_counts(job).get(EmbeddingStatus.DONE, 0) > 0

        wait_until(some_done, 300, interval=0.1, what="the first embeddings of the reindex")
        first.kill()  # SIGKILL, whole process group: no acknowledgement, no cleanup
        assert not first.alive()
        at_kill = _job_counts(job)
        assert 0 < at_kill.get(EmbeddingStatus.DONE, 0) < 300
        assert at_kill.get(EmbeddingStatus.PENDING, 0) > 0
        print(f"worker killed with {at_kill} (tasks of {vs_settings.TASK_BATCH} products)")
        job.refresh_from_db()
        assert job.state == ReindexJob.State.RUNNING

        second = start_worker(db, redis_server.url, log_dir=tmp_path)
        second.wait_ready()

        def finished() -> bool:
            if not second.alive():
                raise RuntimeError(f"the second worker died:\n{second.log()[-4000:]}")
            job.refresh_from_db()
            return job.state != ReindexJob.State.RUNNING

        wait_until(finished, 600, interval=0.5, what="the reindex to finish after the worker was killed")
        assert "resumed" in second.log() and "pending products of running reindex jobs" in second.log()
    finally:
        first.kill()
        if second is not None:
            second.stop()

    job.refresh_from_db()
    assert job.state == ReindexJob.State.DONE
    assert job.done_count + job.failed_count == job.total == len(product_ids) == Product.objects.count()
    assert job.failed_count == 0
    rows = ProductEmbedding.objects.order_by("product_id")
    assert list(rows.values_list("product_id", flat=True)) == product_ids  # exactly one row each
    assert set(rows.values_list("status", flat=True)) == {EmbeddingStatus.DONE}
    assert all(len(bytes(v)) == 2048 * 4 for v in rows.values_list("vector", flat=True))
    assert set(rows.values_list("job_id", flat=True)) == {job.pk}
    # Each product was announced to the search indexes exactly once by this reindex: the
    # batch the killed worker had half done was not stored twice.
    changes = _index_changes_per_product(before)
    assert set(changes) == set(product_ids)
    assert set(changes.values()) == {1}


# --- 2. Redis down --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_redis_down_site_keeps_serving_and_pending_work_resumes(
    tmp_path, real_weights, redis_server, settings, django_user_model
) -> None:
    settings.VISUALSEARCH_QUERY_TIMEOUT = 2.0
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0.0
    product_ids = _import(tmp_path, 12)
    embeddings.embeddings_compute(product_ids)  # the catalogue is analysed (in this process)
    assert ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE).count() == 12
    shopper = Client()
    staff = Client()
    staff.force_login(_staff(django_user_model))
    photo = catalogue_photo(catalogue_rows(20)[-1])
    product = product_ids[0]
    db = database_url(connection.settings_dict)

    with publishing_to(redis_server.url):
        assert len(get_index()) == 12  # the index is loaded while everything is up
        assert shopper.get("/").status_code == 200

        redis_server.stop()
        assert not redis_server.ping()

        # Browsing and find-similar: no Redis involved.
        assert shopper.get("/").status_code == 200
        assert shopper.get(f"/products/{product}/").status_code == 200
        similar = shopper.get(f"/products/{product}/similar/?refined=1")
        assert similar.status_code == 200
        assert len(similar.context["result"].results) == 5
        api = shopper.get(f"/api/products/{product}/similar")
        assert api.status_code == 200
        assert len(api.json()["results"]) == 5

        # Photo search: a clear 503, within the configured timeouts.
        started = time.monotonic()
        page = shopper.post("/search/photo/", {"image": SimpleUploadedFile("p.jpg", photo, "image/jpeg")})
        page_seconds = time.monotonic() - started
        assert page.status_code == 503
        assert "Photo search is unavailable right now" in page.content.decode()
        assert "find similar” still work" in page.content.decode()
        started = time.monotonic()
        api = shopper.post("/api/search/photo", {"image": SimpleUploadedFile("p.jpg", photo, "image/jpeg")})
        api_seconds = time.monotonic() - started
        assert api.status_code == 503
        assert api.json()["error"]["status"] == 503
        assert "Photo search is unavailable right now" in api.json()["error"]["message"]
        assert max(page_seconds, api_seconds) < settings.VISUALSEARCH_QUERY_TIMEOUT + 5, (page_seconds, api_seconds)
        print(f"photo search with Redis down: page {page_seconds:.2f} s, API {api_seconds:.2f} s")

        # A staff upload is saved; the embedding waits, and the admin says why.
        from tests.support.images import image_bytes

        started = time.monotonic()
        upload = SimpleUploadedFile("staff photo.jpg", image_bytes(size=(300, 400)), content_type="image/jpeg")
        form = admin_product_form(upload, name="Added While Redis Down", allow_new_values="on")  # a made-up product
        added = staff.post(reverse("admin:shop_product_add"), form)
        assert added.status_code == 302, added.content.decode()[:3000]
        upload_seconds = time.monotonic() - started
        assert upload_seconds < 15
        warnings = [m for m in _messages(added) if "its embedding could not be queued" in m]
        assert warnings and "unavailable" in warnings[0], _messages(added)
        new = Product.objects.get(name="Added While Redis Down")
        assert default_storage.exists(new.image.name)
        row = ProductEmbedding.objects.get(product=new)
        assert row.status == EmbeddingStatus.PENDING
        assert row.error.startswith("Not queued: the task queue is unavailable")
        change = staff.get(reverse("admin:shop_product_change", args=[new.pk]))
        assert change.status_code == 200
        assert "Not queued: the task queue is unavailable" in change.content.decode()
        assert "Compute embeddings" in change.content.decode()
        print(f"admin upload with Redis down: {upload_seconds:.2f} s")

        # The admin's own pages and actions answer (and say the queue is down).
        started = time.monotonic()
        assert staff.get(reverse("admin:visualsearch_reindex_dashboard")).status_code == 200
        action = staff.post(
            reverse("admin:shop_product_changelist"),
            {"action": "compute_embeddings", "_selected_action": [new.pk]},
        )
        assert action.status_code == 302
        assert any("task queue is unavailable" in m for m in _messages(action))
        assert time.monotonic() - started < 15

        # Redis comes back on the same address, a worker starts: the waiting work proceeds.
        revived = RedisServer(port=redis_server.port).start()
        worker = start_worker(db, revived.url, log_dir=tmp_path)
        try:
            worker.wait_ready()
            action = staff.post(
                reverse("admin:shop_product_changelist"),
                {"action": "compute_embeddings", "_selected_action": [new.pk]},
            )
            assert any("Queued embeddings for 1 product" in m for m in _messages(action)), _messages(action)

            def embedded() -> bool:
                row.refresh_from_db()
                return row.status != EmbeddingStatus.PENDING

            wait_until(embedded, 300, what="the new product's embedding")
            assert row.status == EmbeddingStatus.DONE, row.error
            assert row.error == ""
            similar = shopper.get(f"/products/{new.pk}/similar/?refined=1")  # the index picked it up
            assert len(similar.context["result"].results) == 5

            settings.VISUALSEARCH_QUERY_TIMEOUT = 60.0  # the worker may still be warming up
            page = shopper.post("/search/photo/", {"image": SimpleUploadedFile("p.jpg", photo, "image/jpeg")})
            assert page.status_code == 200, page.content.decode()[:3000]
            assert len(page.context["result"].results) == 5
        finally:
            worker.stop()
            revived.stop()


# --- 3. Redis frozen --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_frozen_redis_photo_search_gives_up_in_seconds_and_recovers(tmp_path, real_weights, redis_server, settings):
    """Redis stopped (SIGSTOP) rather than down: connections open but nothing answers. Photo
    search still answers a 503 within seconds (short Redis socket timeouts), and works again
    once Redis is back, without restarting the process."""
    settings.VISUALSEARCH_QUERY_TIMEOUT = 20.0
    product_ids = _import(tmp_path, 8)
    embeddings.embeddings_compute(product_ids)
    photo = catalogue_photo(catalogue_rows(20)[-1])
    shopper = Client()
    db = database_url(connection.settings_dict)

    def photo_search():
        started = time.monotonic()
        response = shopper.post("/api/search/photo", {"image": SimpleUploadedFile("p.jpg", photo, "image/jpeg")})
        return response, time.monotonic() - started

    with publishing_to(redis_server.url):
        assert len(get_index()) == 8
        redis_server.process.signal(signal.SIGSTOP)
        try:
            response, seconds = photo_search()
        finally:
            redis_server.process.signal(signal.SIGCONT)
        assert response.status_code == 503
        assert "Photo search is unavailable right now" in response.json()["error"]["message"]
        assert seconds < 15, seconds  # was ~30 s with the default 10 s socket timeouts
        print(f"photo search with Redis frozen: 503 after {seconds:.1f} s")

        worker = start_worker(db, redis_server.url, queues="query", log_dir=tmp_path)
        try:
            worker.wait_ready()
            response, seconds = photo_search()
            assert response.status_code == 200, response.content[:500]
            assert len(response.json()["results"]) == 5
        except BaseException:
            print(worker.log()[-4000:])
            raise
        finally:
            worker.kill()


# --- 4. A corrupt image file in storage ----------------------------------------------------------


@pytest.mark.django_db
def test_reindex_marks_corrupt_and_missing_images_failed_and_carries_on(
    make_product, make_image, real_weights, django_capture_on_commit_callbacks
) -> None:
    products = [make_product(image=make_image(size=(120, 160))) for _ in range(7)]
    corrupt, missing, empty = products[2], products[4], products[5]
    whole = make_image(size=(600, 800))
    Path(default_storage.path(corrupt.image.name)).write_bytes(whole[: len(whole) // 3])  # truncated JPEG
    default_storage.delete(missing.image.name)
    Path(default_storage.path(empty.image.name)).write_bytes(b"")

    with django_capture_on_commit_callbacks(execute=True):
        job = reindex.reindex_job_start(ReindexJob.Mode.ALL)
    job.refresh_from_db()
    assert job.state == ReindexJob.State.DONE
    assert (job.total, job.done_count, job.failed_count) == (7, 4, 3)
    rows = {row.product_id: row for row in ProductEmbedding.objects.all()}
    assert len(rows) == 7
    assert rows[corrupt.pk].status == EmbeddingStatus.FAILED
    assert "truncated or corrupt" in rows[corrupt.pk].error
    assert corrupt.image.name in rows[corrupt.pk].error
    assert rows[missing.pk].status == EmbeddingStatus.FAILED
    assert "missing from storage" in rows[missing.pk].error
    assert rows[empty.pk].status == EmbeddingStatus.FAILED
    assert "empty" in rows[empty.pk].error
    for product in products:
        if product not in (corrupt, missing, empty):
            assert rows[product.pk].status == EmbeddingStatus.DONE
            assert rows[product.pk].error == ""
            assert len(bytes(rows[product.pk].vector)) == 2048 * 4


# --- 5. Two staff start a full reindex at the same moment ----------------------------------------


def _post_at_once(clients: list[Client], url: str, data: dict[str, str]) -> list[object]:
    """Each client POSTs from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(clients))
    responses: list[object] = [None] * len(clients)

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[i] = clients[i].post(url, data)
        except BaseException as exc:  # reported by the caller
            responses[i] = exc
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.mark.django_db(transaction=True)
def test_two_staff_starting_a_reindex_at_once_get_one_job(make_product, redis_server, django_user_model) -> None:
    with publishing_to(redis_server.url):  # tasks wait in a private queue: no worker needed
        for _ in range(3):
            make_product()
        users = [_staff(django_user_model, name) for name in ("alice", "bob")]
        for round_ in range(3):
            clients = [Client(), Client()]  # fresh sessions: each round's messages only
            for staff, user in zip(clients, users, strict=True):
                staff.force_login(user)
            responses = _post_at_once(clients, reverse("admin:visualsearch_reindex_start"), {"mode": "all"})
            assert all(hasattr(r, "status_code") for r in responses), responses
            assert [r.status_code for r in responses] == [302, 302]
            messages = [" ".join(_messages(r)) for r in responses]
            started = [m for m in messages if m.startswith("Started reindex #")]
            refused = [m for m in messages if "is already running" in m]
            assert len(started) == 1 and len(refused) == 1, (round_, messages)
            running = list(ReindexJob.objects.filter(state=ReindexJob.State.RUNNING))
            assert len(running) == 1
            assert f"#{running[0].pk}" in started[0] and f"#{running[0].pk}" in refused[0]
            assert running[0].total == 3
            reindex.reindex_job_cancel(running[0])

    import redis

    queued = redis.Redis(port=redis_server.port).llen("celery")
    assert queued == 3 + 3  # the products' own embeddings, then one batch per started job

    assert ReindexJob.objects.count() == 3
    assert not ReindexJob.objects.filter(state=ReindexJob.State.RUNNING).exists()
