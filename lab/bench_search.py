"""Search benchmarks: kNN per query, find-similar and photo-search latency, index memory.

kNN (``knn_benchmark``): the index's search (``EmbeddingIndex.similar_to_vector``, query
projection included), full and PCA-projected, against the plain numpy bound — a float32
(N, 2048) matrix @ query + argpartition, timed in the same run on the same queries — and
scikit-learn's brute-force NearestNeighbors for reference. On the real embeddings when
enough products are embedded, else on a synthetic matrix held in memory only (attached to
real product ids and attributes where the catalogue has them; nothing is written).

Requests (``request_benchmark``, ``photo_benchmark``) go through the real URL patterns,
views and search services in this process (a ``RequestFactory`` request handed to the view
the URL resolves to; no middleware), with this process's warm index, over the products
that really are embedded.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import resolve, reverse

from lab.errors import BenchmarkFailed
from shop.attributes import SEARCHABLE_FIELDS
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index import get_index
from visualsearch.index import projection as projection_mod
from visualsearch.index.base import FULL_DIMS, SearchIndex
from visualsearch.index.loading import served_model_versions
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.models import EmbeddingStatus, ProductEmbedding
from visualsearch.selectors import localiser_active

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

    def __str__(self) -> str:
        return f"p50 {self.p50:.2f} p95 {self.p95:.2f} mean {self.mean:.2f} ms"


def timed(calls: Sequence[Callable[[], object]], warmup: int = 3) -> Timing:
    """Run each call once (after a few warm-up calls) and time it."""
    return timed_together({"": calls}, warmup)[""]


def timed_together(methods: Mapping[str, Sequence[Callable[[], object]]], warmup: int = 3) -> dict[str, Timing]:
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


# --- data -----------------------------------------------------------------------------


def embedded_ids() -> list[int]:
    """Active products with an embedding the index serves (synthetic ones too with
    VISUALSEARCH_INDEX_SYNTHETIC), by id."""
    return list(
        ProductEmbedding.objects.filter(
            status=EmbeddingStatus.DONE,
            model_version__in=served_model_versions(),
            vector__isnull=False,
            product__is_active=True,
        )
        .order_by("product_id")
        .values_list("product_id", flat=True)
    )


def synthetic_count(ids: Sequence[int]) -> int:
    """How many of these products carry synthetic vectors (seed_synthetic_embeddings)."""
    from lab.synthetic import SYNTHETIC_CHECKSUM

    return ProductEmbedding.objects.filter(product_id__in=list(ids), source_checksum=SYNTHETIC_CHECKSUM).count()


def real_vectors(ids: Sequence[int]) -> np.ndarray:
    """The stored (N, 2048) vectors of these products, in this order."""
    matrix = np.empty((len(ids), FULL_DIMS), dtype=np.float32)
    row_of = {pid: i for i, pid in enumerate(ids)}
    rows = ProductEmbedding.objects.filter(product_id__in=list(ids)).values_list("product_id", "vector")
    for pid, vector in rows.iterator(chunk_size=2000):
        if vector is not None:
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
    rows = list(Product.objects.order_by("pk").values_list("pk", *SEARCHABLE_FIELDS)[:count])
    ids = [row[0] for row in rows]
    attributes = {name: [row[i + 1] for row in rows] for i, name in enumerate(SEARCHABLE_FIELDS)}
    next_id = (max(ids) if ids else 0) + 1
    while len(ids) < count:
        ids.append(next_id)
        next_id += 1
        for name in SEARCHABLE_FIELDS:
            attributes[name].append("")
    return ids, attributes


# --- kNN ------------------------------------------------------------------------------


@dataclass
class IndexMemory:
    memory_bytes: int
    array_bytes: int | None  # the index's arrays alone, when the index says
    rows: int


def index_memory(index: SearchIndex) -> IndexMemory:
    return IndexMemory(index.memory_bytes(), getattr(index, "nbytes", None), len(index))


@dataclass
class KnnReport:
    data: str  # what the vectors are
    rows: int
    bound: Timing  # the numpy bound over the full vectors
    indexes: dict[str, Timing]  # "index full-2048", "index PCA-256" → timing
    memory: dict[str, IndexMemory]
    filtered: dict[str, Timing] = field(default_factory=dict)  # with a gender filter
    filter_gender: str = ""
    sklearn: Timing | None = None
    sklearn_queries: int = 0

    def ratio(self, name: str) -> float:
        return self.indexes[name].p50 / self.bound.p50


def knn_benchmark(
    ids: Sequence[int],
    queries: int,
    seed: int,
    dims: int,
    *,
    synthetic_rows: int = SYNTHETIC_ROWS,
    real_min_rows: int = REAL_MIN_ROWS,
    sklearn: bool = True,
) -> KnnReport:
    """kNN timings of the index (full and PCA-``dims``) against the numpy bound and sklearn,
    over the real embeddings of ``ids`` when there are at least ``real_min_rows`` of them,
    else over ``synthetic_rows`` synthetic vectors."""
    attributes: dict[str, list[str]] | None = None
    projection: projection_mod.ProjectionData | None
    if len(ids) >= real_min_rows:
        data = f"the real catalogue, {len(ids)} embedded products × 2048"
        matrix, row_ids = real_vectors(ids), list(ids)
        projection = projection_mod.projection_current()
    else:
        data = (
            f"SYNTHETIC {synthetic_rows} × 2048 float32 (only {len(ids)} products embedded, < {real_min_rows}); "
            "in memory only, attached to real product ids/attributes"
        )
        matrix = synthetic_vectors(synthetic_rows, seed)
        row_ids, attributes = catalogue_rows(synthetic_rows)
        projection = random_projection(matrix, dims, seed) if dims > 0 else None
    rng = np.random.default_rng(seed + 1)
    picks = rng.choice(len(matrix), size=min(queries, len(matrix)), replace=False)
    query_vectors = [matrix[i].copy() for i in picks]
    indexes = {"index full-2048": EmbeddingIndex.from_arrays(row_ids, matrix, attributes)}
    if projection is not None:
        indexes[f"index PCA-{projection.dims}"] = EmbeddingIndex.from_arrays(
            row_ids, matrix, attributes, projection=projection
        )
    methods: dict[str, list[Callable[[], object]]] = {"bound": [partial(numpy_bound, matrix, q) for q in query_vectors]}
    for name, index in indexes.items():
        methods[name] = [partial(index.similar_to_vector, q, K) for q in query_vectors]
    timings = timed_together(methods)
    report = KnnReport(
        data=data,
        rows=len(matrix),
        bound=timings.pop("bound"),
        indexes=timings,
        memory={name: index_memory(index) for name, index in indexes.items()},
    )
    if attributes and any(attributes["gender"]):
        gender = max(set(attributes["gender"]) - {""}, key=attributes["gender"].count)
        report.filter_gender = gender
        for name, index in indexes.items():
            report.filtered[name] = timed(
                [partial(index.similar_to_vector, q, K, {"gender": gender}) for q in query_vectors]
            )
    if sklearn:
        from sklearn.neighbors import NearestNeighbors

        model = NearestNeighbors(n_neighbors=K, algorithm="brute").fit(matrix)
        sample = query_vectors[: min(len(query_vectors), 50)]
        report.sklearn = timed([partial(model.kneighbors, q[np.newaxis], K) for q in sample], warmup=2)
        report.sklearn_queries = len(sample)
    return report


# --- requests -------------------------------------------------------------------------


def _host() -> str:
    """A Host header ALLOWED_HOSTS accepts (the API builds absolute URLs)."""
    for host in settings.ALLOWED_HOSTS:
        return "localhost" if host == "*" else host.lstrip(".")
    return "localhost"


def serve(request_path: str, *, photo: bytes | None = None) -> HttpResponse:
    """The response of the view ``request_path`` resolves to, called in this process with a
    GET (or a multipart POST of ``photo`` as the field ``image``); middleware does not run.
    Raises BenchmarkFailed unless it answers 200."""
    factory = RequestFactory(HTTP_HOST=_host())
    if photo is None:
        request = factory.get(request_path)
    else:
        request = factory.post(
            request_path, {"image": SimpleUploadedFile("photo.jpg", photo, content_type="image/jpeg")}
        )
    request.user = AnonymousUser()
    match = resolve(request.path_info)
    try:
        # One client sends every request here: the per-client limits (a shopper's photo searches
        # per minute) would answer 429 part-way through the benchmark.
        with override_settings(RATELIMIT_ENABLED=False):
            response = match.func(request, *match.args, **match.kwargs)
    except Exception as exc:  # an application error the middleware would have answered
        raise BenchmarkFailed(f"{request.method} {request_path} failed: {exc!r}") from exc
    if response.status_code != 200:
        raise BenchmarkFailed(f"{request.method} {request_path} answered {response.status_code}")
    return response


def sql_queries(call: Callable[[], object]) -> int:
    """How many SQL statements ``call`` runs."""
    count = [0]

    def counting(execute: Callable[..., object], sql: str, params: object, many: bool, context: object) -> object:
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        call()
    return count[0]


FIND_SIMILAR_REQUESTS = (
    ("find-similar API", "visualsearch:api_similar", ""),
    ("find-similar API same_type", "visualsearch:api_similar", "?same_type=1"),
    ("find-similar page", "visualsearch:similar", ""),
)


@dataclass
class RequestReport:
    index_rows: int
    space: str
    load_seconds: float
    refresh_seconds: float
    memory: IndexMemory
    sql_per_request: int
    requests: int
    timings: dict[str, Timing]  # label → timing


def request_benchmark(ids: Sequence[int], queries: int, seed: int) -> RequestReport:
    """Find-similar latency (API, API with a refinement, page) over random embedded products,
    with this process's index loaded first (as a warm web process holds it)."""
    index = get_index()
    started = time.perf_counter()
    size = len(index)
    load_seconds = time.perf_counter() - started
    dims = getattr(index, "dims", FULL_DIMS)
    space = f"PCA-{dims} + re-rank" if index.projected else f"{dims} dims"
    rng = np.random.default_rng(seed + 2)
    picks = rng.choice(list(ids), size=queries, replace=len(ids) < queries).tolist()

    def path(view: str, query: str, pid: int) -> str:
        return reverse(view, args=[pid]) + query

    first = path("visualsearch:api_similar", "", picks[0])
    serve(first)  # warm
    timings = {
        label: timed([partial(serve, path(view, query, pid)) for pid in picks])
        for label, view, query in FIND_SIMILAR_REQUESTS
    }
    return RequestReport(
        index_rows=size,
        space=space,
        load_seconds=load_seconds,
        refresh_seconds=float(vs_settings.INDEX_REFRESH_SECONDS),
        memory=index_memory(index),
        sql_per_request=sql_queries(lambda: serve(first)),
        requests=len(picks),
        timings=timings,
    )


@dataclass
class PhotoReport:
    in_process: bool  # the query embedding runs here, not on the worker's query queue
    photos: int
    bare: Timing  # one embed_batch forward pass of the decoded photo
    end_to_end: Timing  # the photo-search API
    # One forward pass of two inputs: what a photo the default box trims costs (the trimmed
    # region and the whole photo, ``DecodedPhoto.model_inputs``); catalogue photos keep one.
    bare_two: Timing | None = None
    # Real-photo scenes (products lying small beside a distractor, one or two per photo,
    # visualsearch.ml.scenes): the API end to end, with the active item localiser (if any), and
    # their own bare forward pass.
    scenes_bare: Timing | None = None
    scenes_end_to_end: Timing | None = None
    localiser: str = ""
    # Photo search's ranking step alone (``rank_photo``, one query row per photo and scene):
    # candidates scored from the index's own learned-space rows + stored colours, against
    # the stored vectors re-read (the path before; a FAISS artifact's still). None without
    # a learned photo space.
    ranking_rows: Timing | None = None
    ranking_stored: Timing | None = None

    @property
    def ratio(self) -> float:
        return self.end_to_end.p50 / self.bare.p50


def stored_photos(ids: Sequence[int], count: int, seed: int) -> list[bytes]:
    """The stored catalogue photos of ``count`` random products among ``ids``."""
    picks = np.random.default_rng(seed + 3).choice(list(ids), size=min(count, len(ids)), replace=False).tolist()
    images = []
    for product in Product.objects.filter(pk__in=picks).only("image"):
        if not product.image.name:
            continue
        with default_storage.open(product.image.name, "rb") as handle:
            images.append(handle.read())
    return images


def photo_benchmark(ids: Sequence[int], photos: int, seed: int) -> PhotoReport:
    """Photo search through the API, end to end, against one bare forward pass per photo."""
    from visualsearch.ml import embedder
    from visualsearch.ml.preprocessing import bytes_to_model_input

    images = stored_photos(ids, photos, seed)
    embedder.warm_up()
    pixels = [bytes_to_model_input(data) for data in images]
    scenes = scene_photos(images, seed)
    scene_pixels = [bytes_to_model_input(data) for data in scenes]
    api = reverse("visualsearch:api_photo_search")
    timings = timed_together(
        {
            "bare": [partial(embedder.embed_batch, p[np.newaxis]) for p in pixels],
            "bare_two": [partial(embedder.embed_batch, np.stack([p, p])) for p in pixels],
            "end_to_end": [partial(serve, api, photo=d) for d in images],
            "scenes_bare": [partial(embedder.embed_batch, p[np.newaxis]) for p in scene_pixels],
            "scenes_end_to_end": [partial(serve, api, photo=d) for d in scenes],
        }
    )
    active = localiser_active()
    ranking = ranking_benchmark(pixels + scene_pixels)
    return PhotoReport(
        bool(vs_settings.QUERY_IN_PROCESS),
        len(images),
        timings["bare"],
        timings["end_to_end"],
        timings["bare_two"],
        timings["scenes_bare"],
        timings["scenes_end_to_end"],
        str(active) if active else "none active: the default box",
        *(ranking or (None, None)),
    )


class _StoredVectorsOnly:
    """The process index without its learned-space rows: photo search re-reads the stored
    vectors (the ranking before, and a FAISS artifact's)."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index

    def __getattr__(self, name: str) -> object:
        if name == "photo_rows":
            raise AttributeError(name)
        return getattr(self._index, name)


def ranking_benchmark(pixels: Sequence[np.ndarray]) -> tuple[Timing, Timing] | None:
    """``rank_photo`` on each photo's whole-photo vector and colour: rows from the index
    against the stored vectors, interleaved; None when the index has no learned photo space."""
    from visualsearch.ml import embedder
    from visualsearch.query.photo import query_colour
    from visualsearch.query.ranking import rank_photo

    index = get_index()
    if index.photo_projection is None:
        return None
    queries = [(embedder.embed_batch(p[np.newaxis])[0], query_colour(p[np.newaxis])) for p in pixels]
    stored_only = _StoredVectorsOnly(index)
    timings = timed_together(
        {
            "rows": [partial(rank_photo, index, v, c, K, {}) for v, c in queries],
            "stored": [partial(rank_photo, stored_only, v, c, K, {}) for v, c in queries],  # type: ignore[arg-type]
        }
    )
    return timings["rows"], timings["stored"]


def scene_photos(images: Sequence[bytes], seed: int) -> list[bytes]:
    """Real-photo scenes of these catalogue photos: every third with two products, JPEG."""
    from PIL import Image

    from visualsearch.ml import scenes

    opened = []
    for number, data in enumerate(images):
        with Image.open(io.BytesIO(data)) as image:
            opened.append((number, image.convert("RGB")))
    out = []
    for number in range(len(opened)):
        items = [opened[number]] + ([opened[(number + 1) % len(opened)]] if number % 3 == 2 else [])
        scene = scenes.make_scene(items, scenes.scene_rng(seed + 99, number), scenes.EVALUATION)
        out.append(scene.jpeg())
    return out


# --- output ---------------------------------------------------------------------------


def timing_line(label: str, timing: Timing, target: str = "") -> str:
    return f"{label}: {timing}" + (f" (target {target})" if target else "")


def memory_line(name: str, memory: IndexMemory) -> str:
    arrays = f" ({memory.array_bytes / 1e6:.1f} MB of arrays)" if memory.array_bytes is not None else ""
    return (
        f"index memory {name}: {memory.memory_bytes} bytes = {memory.memory_bytes / 1e6:.1f} MB{arrays}, "
        f"{memory.rows} rows (goal <= 100 MB at 43k)"
    )


def knn_lines(report: KnnReport) -> list[str]:
    lines = [f"# kNN data: {report.data}", timing_line("kNN ms/query numpy bound (2048)", report.bound)]
    for name, timing in report.indexes.items():
        lines += [
            timing_line(f"kNN ms/query {name}", timing),
            f"kNN ratio {name} / numpy bound {report.ratio(name):.2f} (target <= 1.5)",
            memory_line(name, report.memory[name]),
        ]
    lines += [timing_line(f"kNN ms/query {n} gender={report.filter_gender}", t) for n, t in report.filtered.items()]
    if report.sklearn is not None:
        label = f"kNN ms/query sklearn NearestNeighbors(brute) [{report.sklearn_queries} queries]"
        lines.append(timing_line(label, report.sklearn))
    return lines


def request_lines(report: RequestReport) -> list[str]:
    lines = [
        f"# request data: the process index, {report.index_rows} real embedded products, {report.space} "
        f"(loaded in {report.load_seconds:.2f} s), refresh every {report.refresh_seconds:g} s",
        memory_line("process index", report.memory),
        f"# find-similar API: {report.sql_per_request} SQL queries per request (warm index)",
    ]
    suffix = f"ms (server-side, in-process) [{report.requests} requests]"
    return lines + [timing_line(f"{label} {suffix}", t, "p50 <= 30") for label, t in report.timings.items()]


def photo_lines(report: PhotoReport) -> list[str]:
    return (
        [
            "# photo search path: in-process (VISUALSEARCH_QUERY_IN_PROCESS)"
            if report.in_process
            else "# photo search path: through the Celery `query` queue (a query worker must be running)",
            timing_line("embed_batch(1 image) ms, bare forward pass", report.bare),
            timing_line(f"photo search API end-to-end ms [{report.photos} catalogue photos]", report.end_to_end),
            f"photo search ratio end-to-end / forward pass {report.ratio:.2f} (target <= 1.5)",
        ]
        + (
            [
                timing_line("embed_batch(2 images: trimmed region + whole photo) ms", report.bare_two),
                f"two inputs / one input {report.bare_two.p50 / report.bare.p50:.2f} (a photo the default box trims)",
            ]
            if report.bare_two is not None
            else []
        )
        + (
            [
                "# real-photo scenes (one or two products lying small, a distractor); "
                f"item localiser: {report.localiser}",
                timing_line("embed_batch(1 image) ms, bare forward pass of the scene", report.scenes_bare),
                timing_line("photo search API end-to-end ms, scenes", report.scenes_end_to_end),
                "photo search ratio end-to-end / forward pass, scenes "
                f"{report.scenes_end_to_end.p50 / report.scenes_bare.p50:.2f} (target <= 1.5)",
            ]
            if report.scenes_bare is not None and report.scenes_end_to_end is not None
            else []
        )
        + (
            [
                timing_line("photo ranking ms per query row, candidates' rows from the index", report.ranking_rows),
                timing_line("photo ranking ms per query row, stored vectors re-read", report.ranking_stored),
                f"photo ranking rows from the index / stored vectors "
                f"{report.ranking_rows.p50 / report.ranking_stored.p50:.2f}",
            ]
            if report.ranking_rows is not None and report.ranking_stored is not None
            else []
        )
    )
