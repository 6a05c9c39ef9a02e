"""Benchmark the search: kNN per query, request latency, photo search, index memory.

    python manage.py bench_search [--queries 200] [--photos 40] [--seed 0]

kNN: the index's search (EmbeddingIndex.similar_to_vector, query projection included)
against the plain numpy bound — float32 (N, 2048) matrix @ query + argpartition, timed
in the same run on the same queries — and scikit-learn's brute-force NearestNeighbors for
reference. It runs on the real embeddings when at least 40,000 products are embedded,
else on a synthetic 43,461 × 2048 float32 matrix held in memory only (the vectors are
attached to real product ids and attributes when the catalogue has them; nothing is
written to the database).

Requests go through the real URLs, views and search code in-process (Django test
client) with a warm index, over the products that really are embedded: "find similar"
(API and page) p50/p95, and photo search end to end (API, real catalogue photos) against
one bare single-image ``embed_batch`` forward pass.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index import FILTER_FIELDS, FULL_DIMS, EmbeddingIndex, get_index
from visualsearch.index import projection as projection_mod
from visualsearch.ml import embedder
from visualsearch.ml.preprocessing import bytes_to_model_input
from visualsearch.models import EmbeddingStatus, ProductEmbedding

SYNTHETIC_ROWS = 43_461
REAL_MIN_ROWS = 40_000
K = 5


@dataclass
class Timing:
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return float(np.percentile(self.samples_ms, 95))

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)


def timed(calls: Sequence[Callable[[], object]], warmup: int = 3) -> Timing:
    """Run each call once (after a few warm-up calls) and time it."""
    return timed_together({"": calls}, warmup)[""]


def timed_together(methods: dict[str, Sequence[Callable[[], object]]], warmup: int = 3) -> dict[str, Timing]:
    """Time the i-th call of every method in turn, so that a busy moment of the machine
    weighs on all of them alike rather than on whichever ran then."""
    for calls in methods.values():
        for call in calls[:warmup]:
            call()
    samples: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(max(len(calls) for calls in methods.values())):
        for name, calls in methods.items():
            if i < len(calls):
                started = time.perf_counter()
                calls[i]()
                samples[name].append(1000 * (time.perf_counter() - started))
    return {name: Timing(values) for name, values in samples.items()}


def numpy_bound(matrix: np.ndarray, query: np.ndarray, k: int = K) -> np.ndarray:
    """The plain numpy exact kNN: one float32 matrix-vector product and an argpartition."""
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def embedded_ids() -> list[int]:
    return list(
        ProductEmbedding.objects.filter(
            status=EmbeddingStatus.DONE,
            model_version=embedder.MODEL_VERSION,
            vector__isnull=False,
            product__is_active=True,
        )
        .order_by("product_id")
        .values_list("product_id", flat=True)
    )


def real_vectors(ids: Sequence[int]) -> np.ndarray:
    """The stored (N, 2048) vectors of these products, in this order."""
    matrix = np.empty((len(ids), FULL_DIMS), dtype=np.float32)
    row_of = {pid: i for i, pid in enumerate(ids)}
    rows = ProductEmbedding.objects.filter(product_id__in=list(ids)).values_list("product_id", "vector")
    for pid, vector in rows.iterator(chunk_size=2000):
        matrix[row_of[pid]] = np.frombuffer(bytes(vector), dtype="<f4")
    return matrix


def synthetic_vectors(rows: int, seed: int) -> np.ndarray:
    """Unit float32 rows, non-negative like the max-pooled ReLU features."""
    rng = np.random.default_rng(seed)
    matrix = np.empty((rows, FULL_DIMS), dtype=np.float32)
    for start in range(0, rows, 4096):
        block = np.abs(rng.standard_normal((min(4096, rows - start), FULL_DIMS), dtype=np.float32))
        matrix[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return matrix


def random_projection(matrix: np.ndarray, dims: int, seed: int) -> projection_mod.ProjectionData:
    """An orthonormal 2048 → dims projection (the synthetic data has no principal axes to fit)."""
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((FULL_DIMS, dims)))
    mean = matrix[:: max(1, len(matrix) // 5000)].mean(axis=0)
    return projection_mod.ProjectionData(0, dims, mean.astype(np.float32), np.ascontiguousarray(basis.T, np.float32))


def catalogue_rows(count: int) -> tuple[list[int], dict[str, list[str]]]:
    """Ids and attributes for ``count`` rows: real products first, made-up ids after them."""
    rows = list(Product.objects.order_by("pk").values_list("pk", *FILTER_FIELDS)[:count])
    ids = [row[0] for row in rows]
    attributes = {name: [row[i + 1] for row in rows] for i, name in enumerate(FILTER_FIELDS)}
    next_id = (max(ids) if ids else 0) + 1
    while len(ids) < count:
        ids.append(next_id)
        next_id += 1
        for name in FILTER_FIELDS:
            attributes[name].append("")
    return ids, attributes


class Command(BaseCommand):
    help = "kNN, request and photo-search latency of visual search, and the index's memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queries", type=int, default=200, help="kNN queries and find-similar requests.")
        parser.add_argument("--photos", type=int, default=40, help="Photo searches (each runs the model).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        queries, photos, seed = int(options["queries"]), int(options["photos"]), int(options["seed"])
        if queries < 5 or photos < 3:
            raise CommandError("Use at least 5 queries and 3 photos.")
        ids = embedded_ids()
        synthetic = ProductEmbedding.objects.filter(product_id__in=ids, source_checksum="synthetic").count()
        self.info(
            f"{len(ids)} products embedded ({synthetic} of them synthetic vectors from seed_synthetic_embeddings); "
            f"VISUALSEARCH_INDEX_DIMS={vs_settings.INDEX_DIMS}"
        )
        self.bench_knn(ids, queries, seed)
        if len(ids) <= K:
            self.info("too few embedded products for the request benchmarks: skipped")
            return
        # The process's own index, as a web process holds it (production refresh interval).
        with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            self.bench_requests(ids, queries, seed)
            self.bench_photos(ids, photos, seed)

    # --- kNN --------------------------------------------------------------------------

    def bench_knn(self, ids: list[int], queries: int, seed: int) -> None:
        dims = int(vs_settings.INDEX_DIMS)
        attributes: dict[str, list[str]] | None = None
        if len(ids) >= REAL_MIN_ROWS:
            self.info(f"kNN data: the real catalogue, {len(ids)} embedded products × 2048")
            matrix = real_vectors(ids)
            row_ids = ids
            projection = projection_mod.projection_current()
        else:
            self.info(
                f"kNN data: SYNTHETIC {SYNTHETIC_ROWS} × 2048 float32 (only {len(ids)} products embedded, "
                f"< {REAL_MIN_ROWS}); in memory only, attached to real product ids/attributes"
            )
            matrix = synthetic_vectors(SYNTHETIC_ROWS, seed)
            row_ids, attributes = catalogue_rows(SYNTHETIC_ROWS)
            projection = random_projection(matrix, dims, seed) if dims > 0 else None
        rng = np.random.default_rng(seed + 1)
        picks = rng.choice(len(matrix), size=min(queries, len(matrix)), replace=False)
        query_vectors = [matrix[i].copy() for i in picks]
        indexes = {"index full-2048": EmbeddingIndex.from_arrays(row_ids, matrix, attributes)}
        if projection is not None:
            indexes[f"index PCA-{projection.dims}"] = EmbeddingIndex.from_arrays(
                row_ids, matrix, attributes, projection=projection
            )
        methods: dict[str, list[Callable[[], object]]] = {
            "numpy bound (2048)": [lambda q=q: numpy_bound(matrix, q) for q in query_vectors]
        }
        for name, index in indexes.items():
            methods[name] = [lambda q=q, index=index: index.similar_to_vector(q, K) for q in query_vectors]
        timings = timed_together(methods)
        bound = timings.pop("numpy bound (2048)")
        self.line("kNN ms/query numpy bound (2048)", bound)
        for name, index in indexes.items():
            timing = timings[name]
            self.line(f"kNN ms/query {name}", timing)
            self.stdout.write(f"kNN ratio {name} / numpy bound {timing.p50 / bound.p50:.2f} (target <= 1.5)")
            self.memory_line(name, index)
        self.bench_filtered(indexes, query_vectors, attributes)
        self.bench_sklearn(matrix, query_vectors)

    def bench_filtered(
        self, indexes: dict[str, EmbeddingIndex], query_vectors: list[np.ndarray], attributes: dict | None
    ) -> None:
        if not attributes or not any(attributes["gender"]):
            return
        gender = max(set(attributes["gender"]), key=attributes["gender"].count)
        for name, index in indexes.items():
            timing = timed([lambda q=q, i=index: i.similar_to_vector(q, K, {"gender": gender}) for q in query_vectors])
            self.line(f"kNN ms/query {name} gender={gender}", timing)

    def bench_sklearn(self, matrix: np.ndarray, query_vectors: list[np.ndarray]) -> None:
        from sklearn.neighbors import NearestNeighbors

        model = NearestNeighbors(n_neighbors=K, algorithm="brute").fit(matrix)
        sample = query_vectors[: min(len(query_vectors), 50)]
        timing = timed([lambda q=q: model.kneighbors(q[np.newaxis], K) for q in sample], warmup=2)
        self.line(f"kNN ms/query sklearn NearestNeighbors(brute) [{len(sample)} queries]", timing)

    # --- requests ---------------------------------------------------------------------

    def bench_requests(self, ids: list[int], queries: int, seed: int) -> None:
        index = get_index()
        started = time.perf_counter()
        size = len(index)
        space = f"PCA-{index.dims} + re-rank" if index.projected else f"{index.dims} dims"
        self.info(
            f"request data: the process index, {size} real embedded products, {space} "
            f"(loaded in {time.perf_counter() - started:.2f} s), refresh every {index.refresh_seconds:g} s"
        )
        self.memory_line("process index", index)
        client = Client()
        rng = np.random.default_rng(seed + 2)
        picks = rng.choice(ids, size=queries, replace=len(ids) < queries).tolist()
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/api/products/{picks[0]}/similar")
        self.info(f"find-similar API: {len(captured)} SQL queries per request (warm index)")
        for label, url in (
            ("find-similar API", "/api/products/{}/similar"),
            ("find-similar API same_type", "/api/products/{}/similar?same_type=1"),
            ("find-similar page", "/products/{}/similar/"),
        ):
            timing = timed([lambda pid=pid, url=url: self.get_ok(client, url.format(pid)) for pid in picks])
            self.line(f"{label} ms (server-side, in-process) [{len(picks)} requests]", timing, target="p50 <= 30")

    def memory_line(self, name: str, index: EmbeddingIndex) -> None:
        self.stdout.write(
            f"index memory {name}: {index.memory_bytes()} bytes = {index.memory_bytes() / 1e6:.1f} MB "
            f"({index.nbytes / 1e6:.1f} MB of arrays), {len(index)} rows (goal <= 100 MB at 43k)"
        )

    def get_ok(self, client: Client, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")

    def bench_photos(self, ids: list[int], photos: int, seed: int) -> None:
        rng = np.random.default_rng(seed + 3)
        picks = rng.choice(ids, size=min(photos, len(ids)), replace=False).tolist()
        images = []
        for product in Product.objects.filter(pk__in=picks).only("image"):
            with default_storage.open(product.image.name, "rb") as handle:
                images.append(handle.read())
        embedder.warm_up()
        pixels = [bytes_to_model_input(data) for data in images]
        client = Client()
        self.info(
            "photo search path: in-process (no broker configured)"
            if settings.CELERY_TASK_ALWAYS_EAGER
            else "photo search path: through the Celery `query` queue (a query worker must be running)"
        )

        def search(data: bytes) -> None:
            upload = SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")
            response = client.post("/api/search/photo", {"image": upload})
            if response.status_code != 200:
                raise CommandError(f"photo search answered {response.status_code}: {response.content[:300]!r}")

        timings = timed_together(
            {
                "bare": [lambda p=p: embedder.embed_batch(p[np.newaxis]) for p in pixels],
                "end_to_end": [lambda d=d: search(d) for d in images],
            }
        )
        bare, end_to_end = timings["bare"], timings["end_to_end"]
        self.line("embed_batch(1 image) ms, bare forward pass", bare)
        self.line(f"photo search API end-to-end ms [{len(images)} catalogue photos]", end_to_end)
        self.stdout.write(
            f"photo search ratio end-to-end / forward pass {end_to_end.p50 / bare.p50:.2f} (target <= 1.5)"
        )

    # --- output -----------------------------------------------------------------------

    def line(self, label: str, timing: Timing, target: str = "") -> None:
        suffix = f" (target {target})" if target else ""
        self.stdout.write(
            f"{label}: p50 {timing.p50:.2f} p95 {timing.p95:.2f} mean {timing.mean:.2f} ms{suffix}".rstrip()
        )

    def info(self, text: str) -> None:
        self.stdout.write(f"# {text}")
