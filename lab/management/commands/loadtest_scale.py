"""``python manage.py loadtest_scale --products 250000 --yes [--real 1000] [--requests 2000] [--seconds 180]``

The whole request at scale (``lab.loadtest_scale``): N synthetic products in this database
(vectors made from real embeddings of ``--real`` catalogue photos), the PCA projection and
the FAISS artifact built, then nginx → gunicorn → the query worker under 8 concurrent
shoppers (catalogue pages, find similar page and API, photo search), p50 / p99 per kind
against the targets, and a web worker's cold start with an empty page cache. Traffic goes to
127.0.0.1 only and stops after ``--requests`` requests or ``--seconds`` seconds. It replaces
the synthetic products of an earlier run; use a load-test database (``--yes``).
"""

from __future__ import annotations

import functools
import os
import random
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import override_settings
from tqdm import tqdm


class Command(BaseCommand):
    help = "Load test at scale: a synthetic catalogue of N products, nginx + gunicorn, 8 shoppers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=250_000, help="Synthetic products to build.")
        parser.add_argument("--real", type=int, default=1000, help="Real catalogue photos embedded as the seeds.")
        parser.add_argument("--dataset", default="", help="The shared catalogue folder (styles.csv, images/).")
        parser.add_argument("--shoppers", type=int, default=8)
        parser.add_argument("--requests", type=int, default=2000, help="At most this many requests in all.")
        parser.add_argument("--seconds", type=float, default=180, help="At most this long of traffic.")
        parser.add_argument("--forward-passes", type=int, default=20, help="Bare forward passes timed.")
        parser.add_argument("--pages", type=int, default=50, help="Catalogue pages the shoppers browse (1..N).")
        parser.add_argument("--no-cold-start", action="store_true", help="Skip the cold-start measurement.")
        parser.add_argument(
            "--keep-page-cache", action="store_true", help="Measure the cold start without dropping the page cache."
        )
        parser.add_argument("--cache", default="", help="The real embeddings' cache file (default: var/cache).")
        parser.add_argument("--broker", default="", help="The query worker's broker (default: CELERY_BROKER_URL).")
        parser.add_argument("--reuse", action="store_true", help="Keep the catalogue of an earlier run of this size.")
        parser.add_argument(
            "--reuse-index",
            action="store_true",
            help="With --reuse: also keep the projection and the index artifact when they still match the catalogue.",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--think",
            type=float,
            default=1.0,
            help="The shop load model: each shopper pauses this many seconds on average (exponential) "
            "between clicks; the targets are read against it. 0: skip this model.",
        )
        parser.add_argument(
            "--no-stress", action="store_true", help="Skip the stress model (8 shoppers, no think time)."
        )
        parser.add_argument(
            "--service", type=int, default=30, help="Requests per kind, one at a time, for the service time (0: skip)."
        )
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            help="Requests per kind profiled in-process (cProfile, SQL, EXPLAIN ANALYZE) into --profile-out (0: skip).",
        )
        parser.add_argument("--profile-out", default="artifacts/request-profile.txt")
        parser.add_argument(
            "--build-only", action="store_true", help="Build the catalogue and the artifact, then stop (no traffic)."
        )
        parser.add_argument("--yes", action="store_true", help="Confirm: this database is for load tests.")

    def handle(self, *args: object, **options: object) -> None:
        from lab import loadtest_scale, scale_catalogue, service_time
        from lab.bench_ann import SyntheticCatalogue
        from shop.models import Product
        from visualsearch.services.artifacts import artifact_build

        if not options["yes"]:
            raise CommandError(
                "This writes synthetic products into the database. Re-run with --yes on a load-test database."
            )
        products = int(options["products"])  # type: ignore[call-overload]
        real_count = int(options["real"])  # type: ignore[call-overload]
        seed = int(options["seed"])  # type: ignore[call-overload]
        if products < real_count or real_count < 64:
            raise CommandError("--products must be at least --real, and --real at least 64.")
        dataset = Path(str(options["dataset"])) if options["dataset"] else scale_catalogue.default_dataset()
        if not (dataset / "styles.csv").exists():
            raise CommandError(f"no styles.csv in {dataset}")
        cache = Path(str(options["cache"])) if options["cache"] else scale_catalogue.default_cache(real_count)
        timings: dict[str, float] = {}
        say = self.stderr.write

        started = time.perf_counter()
        with tqdm(total=real_count, desc="Real photos embedded", unit="photo", disable=None) as bar:
            sample = scale_catalogue.real_sample(real_count, dataset, cache, seed=seed, on_batch=bar.update)
        timings["real embeddings"] = time.perf_counter() - started

        scale = Product.objects.filter(external_id__startswith="scale-")
        with override_settings(VISUALSEARCH_INDEX_SYNTHETIC=True):
            cat = SyntheticCatalogue(sample.vectors, sample.labels(), products, seed)
            if not (options["reuse"] and scale.count() == products):
                started = time.perf_counter()
                say(f"removed {scale_catalogue.catalogue_clear():,} rows of an earlier run")
                photos = scale_catalogue.photos_copy(sample, dataset)
                with tqdm(total=products, desc="Products written", unit="product", disable=None) as bar:
                    scale_catalogue.catalogue_write(cat, sample, photos, seed=seed, on_block=bar.update)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
                timings["catalogue written"] = time.perf_counter() - started
            artifact = scale_catalogue.artifact_reusable(products) if options["reuse_index"] else None
            if artifact is None:
                started = time.perf_counter()
                scale_catalogue.projection_store(cat, seed=seed)
                timings["PCA fitted"] = time.perf_counter() - started
                started = time.perf_counter()
                artifact = artifact_build()
                timings["artifact built"] = time.perf_counter() - started
            else:
                say(f"kept the projection and index artifact v{artifact.pk} of an earlier run")
        if artifact.error:
            raise CommandError(f"the index artifact failed: {artifact.error}")
        say(f"index artifact v{artifact.pk}: {artifact.rows:,} rows")

        if options["build_only"]:
            self.stdout.write(f"built: {products:,} products, artifact v{artifact.pk}; rerun with --reuse")
            return
        rng = random.Random(seed)
        ids = list(scale.values_list("pk", flat=True))
        photo_paths = [sample.image(dataset, i) for i in rng.sample(range(real_count), 20)]
        traffic = loadtest_scale.Traffic(
            product_ids=rng.sample(ids, min(len(ids), 2000)),
            pages=int(options["pages"]),  # type: ignore[call-overload]
            photos=[path.read_bytes() for path in photo_paths],
        )
        say("timing the bare forward pass…")
        forward = loadtest_scale.forward_pass_ms(traffic.photos, int(options["forward_passes"]))  # type: ignore[call-overload]
        probe = f"/api/products/{traffic.product_ids[0]}/similar?k=5"
        shoppers = int(options["shoppers"])  # type: ignore[call-overload]
        think = float(options["think"])  # type: ignore[arg-type]
        models = [("shop", think, f"think time {think:g} s mean (exponential) between clicks")] if think > 0 else []
        if not options["no_stress"]:
            models.append(("stress", 0.0, "no think time (a closed loop: saturates the machine)"))
        broker = str(options["broker"]) or _broker()
        service: list[str] = []
        phases: list[loadtest_scale.Phase] = []
        cold = None
        with tempfile.TemporaryDirectory(prefix="loadtest-scale-") as tmp:
            stack = loadtest_scale.stack_start(Path(tmp), broker, probe, say)
            try:
                # Photo searches until one answers: the query worker has loaded the model.
                waited = loadtest_scale.wait_for_photo_search(stack, traffic.photos[0])
                say(f"the query worker answered a photo search after {waited:.0f} s")
                meter = loadtest_scale.stack_meter(stack, broker)
                if options["service"]:
                    say("service time, one request at a time…")
                    costs = [
                        service_time.kind_cost(
                            kind,
                            functools.partial(loadtest_scale.request_for, kind, traffic=traffic),
                            port=stack.port,
                            direct_port=stack.gunicorn_port,
                            meter=meter,
                            count=max(5, int(options["service"]) // (3 if kind == "photo" else 1)),  # type: ignore[call-overload]
                            seed=seed,
                        )
                        for kind in loadtest_scale.KINDS
                    ]
                    service = service_time.lines(costs)
                if options["profile"]:
                    say("profiling each kind in-process…")
                    service += loadtest_scale.profile_run(
                        stack,
                        traffic,
                        photo_paths,
                        int(options["profile"]),  # type: ignore[call-overload]
                        Path(str(options["profile_out"])),
                    )
                for name, pause, description in models:
                    say(f"{shoppers} shoppers, {name} model ({description})…")
                    load_before = os.getloadavg()[0]
                    before = meter.read()
                    load = loadtest_scale.shoppers_run(
                        stack.port,
                        traffic,
                        shoppers=shoppers,
                        requests=int(options["requests"]),  # type: ignore[call-overload]
                        seconds=float(options["seconds"]),  # type: ignore[arg-type]
                        seed=seed,
                        think=pause,
                    )
                    cpu = service_time.CpuMeter.spent(before, meter.read())
                    phases.append(loadtest_scale.Phase(name, description, load, (load_before, os.getloadavg()[0]), cpu))
                if not options["no_cold_start"]:
                    cold = loadtest_scale.cold_start(stack, probe, drop=not options["keep_page_cache"])
            finally:
                stack.stop()
        report = loadtest_scale.Report(
            products=products,
            build_s=timings,
            tuning=artifact.tuning,
            forward_ms=forward,
            phases=phases,
            cold=cold,
            shoppers=shoppers,
            service=service,
            target_phase="shop" if think > 0 else "",
        )
        self.stdout.write("\n".join(report.lines()))


def _broker() -> str:
    from django.conf import settings

    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if not broker:
        raise CommandError("photo search needs the query worker: set REDIS_URL (the broker)")
    return broker
