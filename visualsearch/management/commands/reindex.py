"""``python manage.py reindex [--missing | --all] [--limit N] [--no-wait] [--resume]``

Starts a reindex job (``reindex.reindex_job_start``) and follows it with a progress bar.
Without a broker (tasks run in-process) the command computes the batches itself; with one,
the workers do and the command polls the job's progress every second.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from tqdm import tqdm

from visualsearch import selectors
from visualsearch.ml.weights import WeightsNotFound
from visualsearch.models import EmbeddingStatus, ProductEmbedding, ReindexJob
from visualsearch.services import embeddings, job_progress, reindex

# Products per embeddings_compute call when the command computes in-process: large enough
# that the background image reads stay one model batch ahead across the whole call.
IN_PROCESS_BATCH = 1024
POLL_SECONDS = 1.0
# With a broker: no progress for this long and tasks waiting → hint that no worker runs.
STALL_HINT_SECONDS = 30.0
MAX_FAILURES_LISTED = 10
NOTHING_TO_RESUME = "No reindex is running: nothing to resume. Start one with --missing or --all."


def dashboard_url() -> str:
    return reverse("admin:visualsearch_reindex_dashboard")


def running_message(job: ReindexJob | None) -> str:
    """Why a new reindex is refused, naming the running job and what to do about it."""
    if job is None:
        return "A reindex is already running; wait for it to finish."
    progress = selectors.reindex_job_progress(job)
    started = f"{job.started_at:%Y-%m-%d %H:%M:%S} UTC" if job.started_at else "just now"
    return (
        f"Reindex #{job.pk} ({job.get_mode_display().lower()}) is already running since {started}: "
        f"{progress.done + progress.failed} of {progress.total} processed, {progress.pending} waiting. "
        f"Watch or cancel it in the admin at {dashboard_url()}, or queue its waiting products again "
        "with `manage.py reindex --resume` if the workers were stopped."
    )


class Command(BaseCommand):
    help = (
        "Compute product embeddings as a reindex job: --missing (default) covers products without a "
        "current embedding, --all recomputes every active product (old vectors keep serving meanwhile). "
        "Shows a progress bar and a summary; --resume queues the running job's waiting products again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--missing",
            dest="mode",
            action="store_const",
            const=ReindexJob.Mode.MISSING,
            help="Products without a current embedding: never computed, waiting, failed or older model (default)",
        )
        what.add_argument(
            "--all", dest="mode", action="store_const", const=ReindexJob.Mode.ALL, help="Every active product"
        )
        what.add_argument(
            "--resume", action="store_true", help="Queue the waiting products of the running reindex again"
        )
        parser.add_argument("--limit", type=int, help="At most N products (for a trial run)")
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the job and return; the workers carry on (needs a broker)"
        )
        parser.set_defaults(mode=ReindexJob.Mode.MISSING)

    def handle(self, *args: Any, mode: str, limit: int | None, no_wait: bool, resume: bool, **options: Any) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number")
        if resume and limit is not None:
            raise CommandError("--limit cannot be combined with --resume")
        self.verbose = int(options.get("verbosity", 1)) > 0
        in_process = bool(settings.CELERY_TASK_ALWAYS_EAGER)
        if not resume and not reindex.reindex_targets_exist(mode):
            # Before the model loads (seconds of TensorFlow for nothing).
            self.stdout.write(self.style.SUCCESS(reindex.nothing_to_reindex_message(mode)))
            return
        if in_process:
            self._load_model(resume)
        try:
            job = self._resume(in_process) if resume else self._start(mode, limit, dispatch=not in_process)
        except reindex.NothingToReindex as exc:
            self.stdout.write(self.style.SUCCESS(str(exc)))
            return
        if job.state == ReindexJob.State.RUNNING and not self._complete(job, in_process, no_wait):
            return
        self._summary(job)

    def _complete(self, job: ReindexJob, in_process: bool, no_wait: bool) -> bool:
        """See the job through; False when the command leaves it to the workers."""
        if in_process:
            if no_wait:
                self.stdout.write("No task broker is configured (REDIS_URL): the reindex runs in this process.")
            self._run_in_process(job)
            return True
        if no_wait:
            self.stdout.write(
                f"Reindex #{job.pk} queued: {job.total} product(s). Watch it in the admin at {dashboard_url()}."
            )
            return False
        return self._follow(job)

    # --- starting --------------------------------------------------------------------------

    def _load_model(self, resume: bool) -> None:
        """Computing here: load the model before the job starts (its time is not the job's,
        and missing weights stop the command before any product is marked)."""
        from visualsearch.ml import embedder

        running = reindex.reindex_job_running()
        if resume and running is None:
            raise CommandError(NOTHING_TO_RESUME)
        if not resume and running is not None:
            raise CommandError(running_message(running))
        try:
            embedder.warm_up()
        except WeightsNotFound as exc:
            raise CommandError(str(exc)) from None

    def _start(self, mode: str, limit: int | None, *, dispatch: bool) -> ReindexJob:
        try:
            job = reindex.reindex_job_start(mode, limit=limit, dispatch=dispatch)
        except reindex.ReindexAlreadyRunning as exc:
            raise CommandError(running_message(exc.job)) from None
        self.stdout.write(f"Started reindex #{job.pk} ({job.get_mode_display().lower()}): {job.total} product(s).")
        return job

    def _resume(self, in_process: bool) -> ReindexJob:
        job = reindex.reindex_job_running()
        if job is None:
            raise CommandError(NOTHING_TO_RESUME)
        count = len(reindex.reindex_job_pending_ids(job)) if in_process else reindex.reindex_job_resume(job)
        self.stdout.write(f"Resuming reindex #{job.pk}: {count} product(s) waiting.")
        return job

    # --- following -------------------------------------------------------------------------

    def _bar(self, progress: selectors.JobProgress) -> tqdm:
        return tqdm(
            total=progress.total,
            initial=progress.done + progress.failed,
            unit="img",
            desc=f"Reindex #{progress.job.pk}",
            disable=not self.verbose,
            file=self.stderr._out,
        )

    def _run_in_process(self, job: ReindexJob) -> None:
        """No broker: compute the job's pending products here, batch by batch."""
        ids = reindex.reindex_job_pending_ids(job)
        force = job.mode == ReindexJob.Mode.ALL
        with self._bar(selectors.reindex_job_progress(job)) as bar:
            try:
                for chunk in embeddings.chunked(ids, IN_PROCESS_BATCH):
                    embeddings.embeddings_compute_or_fail(chunk, job_id=job.pk, force=force, on_chunk=bar.update)
            except KeyboardInterrupt:
                raise CommandError(
                    f"Interrupted: reindex #{job.pk} stays open with its remaining products waiting. "
                    f"Finish it with `manage.py reindex --resume`, or cancel it in the admin at {dashboard_url()}."
                ) from None
        job_progress.reindex_job_check_finished(job.pk)

    def _follow(self, job: ReindexJob) -> bool:
        """Poll the job until the workers finish it; False when the user stopped watching."""
        progress = selectors.reindex_job_progress(job)
        last_change, last_finished, hinted = time.monotonic(), -1, False
        with self._bar(progress) as bar:
            try:
                while True:
                    job.refresh_from_db()
                    progress = selectors.reindex_job_progress(job)
                    finished = progress.done + progress.failed
                    bar.total, bar.n = progress.total, finished
                    bar.refresh()
                    if job.state != ReindexJob.State.RUNNING:
                        return True
                    if finished != last_finished:
                        last_change, last_finished = time.monotonic(), finished
                    elif not hinted and time.monotonic() - last_change > STALL_HINT_SECONDS:
                        hinted = self._stall_hint(bar)
                    time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                bar.close()
                self.stdout.write(
                    f"\nStopped watching. Reindex #{job.pk} keeps running in the workers: watch it in the admin "
                    f"at {dashboard_url()} (or run this command with --resume to queue its waiting products again "
                    "if the workers were stopped)."
                )
                return False

    def _stall_hint(self, bar: tqdm) -> bool:
        queues = selectors.task_queue_lengths()
        waiting = sum(queues.values()) if queues else 0
        bar.write(
            f"No progress for {STALL_HINT_SECONDS:.0f} s ({waiting} task(s) in the queue): is a worker running? "
            "Start one with `celery -A config worker -Q celery --concurrency 1` (embeddings; photo searches "
            "have their own `celery -A config worker -Q query --pool solo`).",
            file=self.stderr._out,
        )
        return True

    # --- summary ---------------------------------------------------------------------------

    def _summary(self, job: ReindexJob) -> None:
        job.refresh_from_db()
        progress = selectors.reindex_job_progress(job)
        seconds = progress.elapsed_seconds
        processed = progress.done + progress.failed
        rate = processed / seconds if seconds > 0 else 0.0
        line = (
            f"Reindex #{job.pk} {job.get_state_display().lower()}: {progress.done} done, {progress.failed} failed "
            f"of {progress.total} in {seconds:.1f} s ({rate:.1f} images/s)."
        )
        self.stdout.write(self.style.SUCCESS(line) if not progress.failed else self.style.WARNING(line))
        self._list_failures(job, progress.failed)

    def _list_failures(self, job: ReindexJob, count: int) -> None:
        if not count:
            return
        rows = (
            ProductEmbedding.objects.filter(job=job, status=EmbeddingStatus.FAILED)
            .order_by("product_id")
            .values_list("product_id", "product__name", "error")[:MAX_FAILURES_LISTED]
        )
        shown = min(count, MAX_FAILURES_LISTED)
        self.stdout.write(f"Failures ({shown} of {count} shown):")
        for product_id, name, error in rows:
            self.stdout.write(f"  product {product_id} ({name}): {error}")
        self.stdout.write(f"All failures are listed in the admin at {dashboard_url()}.")
