"""Celery tasks: thin wrappers around the services."""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from visualsearch.conf import vs_settings
from visualsearch.ml.weights import WeightsNotFound
from visualsearch.query.errors import SearchUnavailable
from visualsearch.services import embeddings, job_progress, reindex
from visualsearch.services.embeddings import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    # Nobody reads the result (progress lives in the database): without this, every
    # enqueue would subscribe the sender to a result channel and store a result in Redis.
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def embed_products(self, product_ids: list[int], job_id: int | None = None, force: bool = False) -> dict:
    """Compute the embeddings of a batch of products (idempotent: safe to run twice)."""
    try:
        result = embeddings.embeddings_compute(product_ids, job_id=job_id, force=force)
    except TRANSIENT_ERRORS:
        raise  # retried with backoff
    except Exception as exc:
        # Not transient (missing weights, a model error, a bug): record the reason where staff
        # look, so the products and their job never wait for ever.
        reason = str(exc) if isinstance(exc, WeightsNotFound) else f"The embedding computation failed: {exc!r}"
        embeddings.embeddings_record_failure(product_ids, reason)
        if job_id is not None:
            job_progress.reindex_job_check_finished(job_id)
        raise
    return asdict(result)


@shared_task(acks_late=False, ignore_result=False)
def embed_query_image(pixels_b64: str) -> str:
    """Embed a prepared query photo's model inputs (V × 224×224×3 uint8, base64: the
    searched region, maybe the whole photo too) in one batch; returns the float32 vectors,
    base64. The web process prepares the pixels, so TensorFlow stays here."""
    from visualsearch.ml import embedder

    pixels = np.frombuffer(base64.b64decode(pixels_b64), dtype=np.uint8).reshape(-1, 224, 224, 3)
    vectors = embedder.embed_batch(pixels)
    return base64.b64encode(vectors.astype("<f4").tobytes()).decode("ascii")


@shared_task(acks_late=False, ignore_result=False)
def embed_query_image_located(pixels_b64: str) -> list[str]:
    """Like ``embed_query_image``, with the stage-4 feature maps of the same forward pass (the
    item localiser's input, float16: 400 kB per photo): [vectors, feature maps], base64."""
    from visualsearch.ml import embedder

    pixels = np.frombuffer(base64.b64decode(pixels_b64), dtype=np.uint8).reshape(-1, 224, 224, 3)
    vectors, features = embedder.embed_with_features(pixels)
    return [
        base64.b64encode(vectors.astype("<f4").tobytes()).decode("ascii"),
        base64.b64encode(features.astype("<f2").tobytes()).decode("ascii"),
    ]


class WorkerQueryEmbedder:
    """Photo search's query embedder in production (``visualsearch.query.embedding``): the
    model inputs go to the worker's "query" queue (``embed_query_image``), the web process
    never loads TensorFlow. SearchUnavailable when no answer comes within
    VISUALSEARCH_QUERY_TIMEOUT (broker or worker down, result backend unreachable)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.start(batch)()

    def start(self, batch: np.ndarray) -> Callable[[], np.ndarray]:
        """Send the inputs to the worker and return a call that waits for their vectors, so
        that the web process does its own work on the photo while the model runs."""
        wait = self._send(embed_query_image, batch)

        def vectors() -> np.ndarray:
            return np.frombuffer(base64.b64decode(wait()), dtype="<f4").reshape(len(batch), -1)

        return vectors

    def with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The embeddings and the stage-4 feature maps (the item localiser's input), from the worker."""
        vectors, features = self._send(embed_query_image_located, batch)()
        return (
            np.frombuffer(base64.b64decode(vectors), dtype="<f4").reshape(len(batch), -1),
            np.frombuffer(base64.b64decode(features), dtype="<f2").astype(np.float32).reshape(len(batch), 14, 14, -1),
        )

    def _send(self, task: Any, batch: np.ndarray) -> Callable[[], Any]:
        """Publish the task; the returned call waits for its result (once)."""
        timeout = vs_settings.QUERY_TIMEOUT
        try:
            async_result = task.apply_async(
                (base64.b64encode(np.ascontiguousarray(batch, np.uint8).tobytes()).decode("ascii"),), expires=timeout
            )
        except Exception as exc:
            raise _unavailable(exc) from None

        def result() -> Any:
            try:
                return async_result.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
            except Exception as exc:
                raise _unavailable(exc) from None
            finally:
                with contextlib.suppress(Exception):  # the result backend may be the thing that is down
                    async_result.forget()

        return result


def _unavailable(exc: BaseException) -> SearchUnavailable:
    logger.warning("photo search embedding unavailable: %s", exc)
    return SearchUnavailable(
        "Photo search is unavailable right now (the image analysis service did not answer). "
        "Please try again in a minute; browsing and “find similar” still work."
    )


@shared_task(ignore_result=True, acks_late=False)
def train_similarity_head(job_id: int) -> None:
    """Run a retrain job (services.head_jobs.head_training_job_run: a similarity head trained on
    the stored vectors and labels, with photo search's learned space from training photos
    embedded here by the model; active only with evidence that it is better). Staff start it
    from the admin; its progress and outcome are written to the job."""
    from visualsearch.services import head_jobs

    try:
        job = head_jobs.head_training_job_run(job_id)
    except Exception as exc:
        head_jobs.head_training_job_fail(job_id, exc)
        raise
    logger.info("retrain #%s: %s %s", job_id, job.get_state_display(), job.reason)


@shared_task(ignore_result=True, acks_late=False)
def train_item_localiser(scenes: int | None = None, validation_scenes: int | None = None) -> None:
    """Train a new item localiser version (services.localisers.localiser_train: generated scenes
    of training products through the model here) and activate it if it finds items at least
    as well as the active one."""
    from visualsearch.ml.localiser_training import TrainingOptions
    from visualsearch.services import localisers

    defaults = TrainingOptions()
    outcome = localisers.localiser_train(
        TrainingOptions(
            scenes=scenes or defaults.scenes, validation_scenes=validation_scenes or defaults.validation_scenes
        )
    )
    logger.info("%s stored; %s: %s", outcome.localiser, "activated" if outcome.activated else "kept", outcome.reason)


@shared_task(ignore_result=True, acks_late=False)
def build_index_artifact(force: bool = True) -> None:
    """Build and publish the FAISS index artifact (services.artifacts): after a reindex
    (force), and periodically (beat: force=False) once the change log has grown past
    VISUALSEARCH_ARTIFACT_REBUILD_CHANGES since the current artifact."""
    from visualsearch.services import artifacts

    row = artifacts.artifact_build() if force else artifacts.artifact_build_if_due()
    if row is not None:
        logger.info("index artifact v%s: %s", row.pk, row.state)


class CeleryTaskQueue:
    """The services' task queue (``visualsearch.services.task_queue``): these tasks, sent
    through the broker (or run eagerly where there is none)."""

    def embed_products(self, product_ids: Sequence[int], *, job_id: int | None, force: bool) -> None:
        embed_products.delay(list(product_ids), job_id=job_id, force=force)

    def build_index_artifact(self) -> None:
        build_index_artifact.delay()

    def train_head(self, job_id: int) -> None:
        train_similarity_head.delay(job_id)


@worker_ready.connect
def resume_interrupted_reindex(**kwargs: object) -> None:
    """A worker killed mid-reindex leaves pending rows: the next worker to start queues them again."""
    try:
        resumed = reindex.reindex_jobs_resume_running()
    except Exception:  # never keep a worker from starting
        logger.exception("could not resume running reindex jobs")
        return
    if resumed:
        logger.info("resumed %d pending products of running reindex jobs", resumed)


# --- warm-up: the query worker loads the model when it starts, not on a shopper's search ----


def _consumes_query_queue(app: object) -> bool:
    try:
        return "query" in app.amqp.queues.consume_from  # type: ignore[attr-defined]
    except Exception:  # no -Q given: the worker consumes every queue
        return True


_warm_up_started = threading.Event()


def _warm_up_in_background(reason: str) -> threading.Thread | None:
    """Start the warm-up once per process (a solo worker gets both signals below)."""
    from visualsearch.warmup import warm_up_model

    if _warm_up_started.is_set():
        return None
    _warm_up_started.set()
    thread = threading.Thread(target=warm_up_model, args=(reason,), name="visualsearch-warm-up", daemon=True)
    thread.start()
    return thread


@worker_ready.connect
def warm_up_query_worker(sender: object = None, **kwargs: object) -> None:
    """A worker that answers photo-search queries in its own process (``--pool solo`` or
    threads, as docs/deploy.md runs the query worker) loads the model as it becomes ready, in a
    background thread, so the first shopper's search does not wait for it."""
    from visualsearch.conf import vs_settings

    if not vs_settings.WARM_UP:
        return
    controller = getattr(sender, "controller", None)
    pool = getattr(getattr(controller, "pool_cls", None), "__module__", "") or ""
    app = getattr(sender, "app", None)
    if app is None or not _consumes_query_queue(app):
        return
    if pool.endswith(("solo", "thread", "threads")):
        _warm_up_in_background("query worker ready")


@worker_process_init.connect
def warm_up_query_worker_child(**kwargs: object) -> None:
    """The same for each child of a prefork worker on the query queue (the model is never
    loaded in the parent: TensorFlow does not survive a fork)."""
    from celery import current_app

    from visualsearch.conf import vs_settings

    if vs_settings.WARM_UP and _consumes_query_queue(current_app):
        _warm_up_in_background("query worker process started")
