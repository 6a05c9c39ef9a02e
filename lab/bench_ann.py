"""The FAISS index at catalogue sizes we do not have images for (``bench_ann --rows N``).

The catalogue: N vectors made from the cached real embeddings (var/cache/
resnet50_slice_20000.npz: 20,000 real L2-normalised ResNet50 vectors of the shared
catalogue, labels from its styles.csv). The real vectors come first; every further product
is a mixture around a real one: ``(1 - t)·x_a + t·x_b + noise`` with ``b`` a real product of
the same article type, ``t`` ~ U(0, 0.4), and the noise in the real vectors' top-64 principal
directions scaled by their spread (× 0.5), then L2-normalised. Products keep ``a``'s labels
(gender, category, colour), and 85% are in stock. Only each product's recipe is kept, so any
product's 2048-dim vector can be made again (for the exact re-rank and the ground truth).

Measured, the way the site ranks: the PCA-256 projection (fitted on the real vectors), the
artifact built and memory-mapped by the production code (artifact.build_faiss, the probe
count tuned as at artifact build by index.tuning, write_files, open_mapped, FaissIndex),
find similar's index step (``similar_to_product``, 32 candidates), then the exact re-rank
with the 2048-dim vectors → recall@5 against the exact full-vector top 5, at the tuned probe
count and at the former fixed default (96) for comparison; the same with the narrowest
common refinement (same gender + article type + colour, in stock); the exact in-memory
index (PCA-256 matrix) on the same queries for reference; build time and size; and 4 worker
processes (``manage.py bench_ann --worker``) that start Django, map the artifact and search:
cold start, and each one's private and shared memory
(per host = the mapped files once + 4 × private).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from django.conf import settings

from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index.faiss_index import FaissIndex
from visualsearch.index.memory import FILTER_FIELDS, EmbeddingIndex
from visualsearch.index.tuning import NprobeTuning, nprobe_tune
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.services import projection as projection_mod

T = TypeVar("T")
K = 5
CANDIDATES = 32  # VISUALSEARCH_RERANK_CANDIDATES
FORMER_DEFAULT_NPROBE = 96  # the fixed VISUALSEARCH_FAISS_NPROBE before probe counts were tuned
FORMER = " (the former fixed default)"
NARROW = ("gender", "article_type", "base_colour", "in_stock")
STYLE_COLUMNS = {
    "gender": "gender",
    "master_category": "masterCategory",
    "sub_category": "subCategory",
    "article_type": "articleType",
    "base_colour": "baseColour",
}


def default_vectors_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / "cache" / "resnet50_slice_20000.npz"


def default_styles_path() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "datasets" / "fashion-small" / "styles.csv"


def real_catalogue(vectors_path: Path, styles_path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    data = np.load(vectors_path)
    ids = np.asarray(data["ids"], dtype=np.int64)
    vectors = np.asarray(data["vectors"], dtype=np.float32)
    rows: dict[int, dict[str, str]] = {}
    with open(styles_path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            try:
                rows[int(row["id"])] = row
            except (KeyError, ValueError):
                continue
    labels = {
        name: np.asarray([(rows.get(int(i)) or {}).get(column) or "" for i in ids], dtype=object)
        for name, column in STYLE_COLUMNS.items()
    }
    return ids, vectors, labels


class SyntheticCatalogue:
    """N products: the real vectors, then mixtures around them (see the module doc)."""

    def __init__(self, real: np.ndarray, labels: dict[str, np.ndarray], rows: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.real = real
        count = len(real)
        self.rows = rows
        first = min(rows, count)
        self.a = np.concatenate([np.arange(first), rng.integers(0, count, rows - first)]).astype(np.int32)
        types = labels["article_type"]
        order = np.argsort(types, kind="stable")
        sorted_types = types[order]
        uniq, start, size = np.unique(sorted_types, return_index=True, return_counts=True)
        slot = np.searchsorted(uniq, types[self.a])
        self.b = order[start[slot] + (rng.random(rows) * size[slot]).astype(np.int64)].astype(np.int32)
        self.t = rng.uniform(0.0, 0.4, rows).astype(np.float32)
        self.t[:first] = 0.0
        centred = real - real.mean(axis=0)
        _u, sv, vt = np.linalg.svd(centred[rng.choice(count, min(count, 8000), replace=False)], full_matrices=False)
        spread = sv[:64] / np.sqrt(min(count, 8000))
        self.basis = (vt[:64] * spread[:, None] * 0.5).astype(np.float32)  # (64, 2048)
        self.z = rng.standard_normal((rows, 64)).astype(np.float16)
        self.z[:first] = 0
        self.ids = np.arange(1, rows + 1, dtype=np.int64)  # product ids
        self.labels = {name: values[self.a] for name, values in labels.items()}
        self.labels["in_stock"] = rng.random(rows) < 0.85

    def vectors(self, rows: np.ndarray | slice) -> np.ndarray:
        a, b, t = self.a[rows], self.b[rows], self.t[rows][:, None]
        v = (1 - t) * self.real[a] + t * self.real[b] + self.z[rows].astype(np.float32) @ self.basis
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    def attributes(self) -> dict[str, list]:
        out: dict[str, list] = {name: list(self.labels[name]) for name in STYLE_COLUMNS}
        out["in_stock"] = self.labels["in_stock"].tolist()
        return out

    def matches(self, rows: slice, query_row: int, fields: tuple[str, ...]) -> np.ndarray:
        mask = np.ones(rows.stop - rows.start, dtype=bool)
        for name in fields:
            mask &= self.labels[name][rows] == self.labels[name][query_row]
        return mask


def exact_truth(
    cat: SyntheticCatalogue, queries: np.ndarray, fields: tuple[str, ...], chunk: int = 50_000
) -> list[list[int]]:
    """Exact top K over the full 2048-dim vectors (the query product excluded), for each query
    row, restricted to the products sharing the query's ``fields``."""
    qv = cat.vectors(queries)
    best_s = np.full((len(queries), K + 1), -np.inf, np.float32)
    best_r = np.zeros((len(queries), K + 1), np.int64)
    for start in range(0, cat.rows, chunk):
        rows = slice(start, min(cat.rows, start + chunk))
        scores = cat.vectors(rows) @ qv.T  # (chunk, Q)
        for j, q in enumerate(queries):
            s = scores[:, j]
            if fields:
                s = np.where(cat.matches(rows, int(q), fields), s, -np.inf)
            if rows.start <= q < rows.stop:
                s[q - rows.start] = -np.inf
            top = np.argpartition(-s, K)[: K + 1] if len(s) > K + 1 else np.arange(len(s))
            merged_s = np.concatenate([best_s[j], s[top]])
            merged_r = np.concatenate([best_r[j], top + rows.start])
            keep = np.argsort(-merged_s, kind="stable")[: K + 1]
            best_s[j], best_r[j] = merged_s[keep], merged_r[keep]
    return [
        [int(r) for r, s in zip(best_r[j], best_s[j], strict=True) if np.isfinite(s)][:K] for j in range(len(queries))
    ]


def reranked(cat: SyntheticCatalogue, query_row: int, product_ids: list[int]) -> list[int]:
    """The candidates' rows re-scored with the full vectors (as search._rescored does), top K."""
    rows = np.asarray(product_ids, dtype=np.int64) - 1
    if len(rows) == 0:
        return []
    scores = cat.vectors(rows) @ cat.vectors(np.asarray([query_row]))[0]
    return rows[np.argsort(-scores, kind="stable")[:K]].tolist()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


@dataclass
class AnnReport:
    rows: int
    factory: str
    nlist: int
    build_s: float
    size_mb: float
    project_s: float
    recall: float
    recall_exact_pca: float
    recall_filtered: float
    filtered_k: float  # share of filtered searches that returned k results (of those with ≥ k matches)
    median_matches: float
    faiss_p50_ms: float
    faiss_p99_ms: float
    faiss_filtered_p50_ms: float
    faiss_filtered_p99_ms: float
    exact_p50_ms: float
    exact_p99_ms: float
    rerank_p50_ms: float
    exact_mb: float
    tuning: NprobeTuning
    tune_s: float
    workers: list[dict]
    mapped_mb: float
    sweep: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        cold = [w["cold_start_s"] for w in self.workers]
        private = [w["private_index_mb"] for w in self.workers]
        process = [w["private_mb"] for w in self.workers]
        host = self.mapped_mb + sum(private)
        return [
            f"rows {self.rows:,}  factory {self.factory} (nlist {self.nlist})",
            f"  nprobe tuned at build: {self.tuning.nprobe} (recall {self.tuning.recall:.3f} of the exact PCA-256 "
            f"top {self.tuning.k} among its {self.tuning.k} candidates, {self.tuning.queries} sampled products, "
            f"target {self.tuning.target:.3f}"
            f"{'' if self.tuning.reached else ', NOT reached within ' + str(self.tuning.bound)}; {self.tune_s:.1f} s)",
            f"  recall@5 after re-rank (tuned nprobe {self.tuning.nprobe}): FAISS {self.recall:.3f}  "
            f"(exact PCA-256 index: {self.recall_exact_pca:.3f})",
            f"  filtered (same gender+type+colour, in stock; median {self.median_matches:.0f} other products match): "
            f"recall@5 {self.recall_filtered:.3f}, k results {100 * self.filtered_k:.0f}%",
            f"  index step find similar: FAISS p50 {self.faiss_p50_ms:.2f} ms p99 {self.faiss_p99_ms:.2f} ms; "
            f"filtered p50 {self.faiss_filtered_p50_ms:.2f} ms p99 {self.faiss_filtered_p99_ms:.2f} ms; "
            f"exact p50 {self.exact_p50_ms:.2f} ms p99 {self.exact_p99_ms:.2f} ms; re-rank {self.rerank_p50_ms:.2f} ms",
            f"  artifact: build {self.build_s:.1f} s, {self.size_mb:.0f} MB "
            f"(projecting the vectors: {self.project_s:.1f} s)",
            f"  workers: cold start {max(cold):.2f} s (max of {len(cold)}), index memory private "
            f"{max(private):.0f} MB each (whole process {max(process):.0f} MB private), mapped "
            f"{self.mapped_mb:.0f} MB shared → {host:.0f} MB of index per host with {len(cold)} workers "
            f"(exact index: {self.exact_mb:.0f} MB per process, {len(cold) * self.exact_mb:.0f} MB per host)",
            *(
                f"  nprobe {p['nprobe']}{FORMER if p['nprobe'] == FORMER_DEFAULT_NPROBE else ''}: "
                f"recall@5 {p['recall']:.3f}, filtered {p['recall_filtered']:.3f}, "
                f"index step p50 {p['p50_ms']:.2f} ms p99 {p['p99_ms']:.2f} ms"
                for p in self.sweep
            ),
        ]

    def row(self) -> str:
        cold = max(w["cold_start_s"] for w in self.workers)
        private = [w["private_index_mb"] for w in self.workers]
        host = self.mapped_mb + sum(private)
        return (
            f"| {self.rows:,} | {self.recall:.3f} ({self.recall_exact_pca:.3f}) | {self.recall_filtered:.3f} "
            f"| {self.faiss_p50_ms:.1f} / {self.faiss_p99_ms:.1f} | {self.faiss_filtered_p50_ms:.1f} / "
            f"{self.faiss_filtered_p99_ms:.1f} | {self.exact_p50_ms:.1f} / {self.exact_p99_ms:.1f} "
            f"| {max(private):.0f} | {host:.0f} ({len(private) * self.exact_mb:.0f}) | {cold:.1f} "
            f"| {self.build_s:.0f} | {self.size_mb:.0f} |"
        )


TABLE_HEADER = (
    "| products | recall@5 FAISS (exact PCA) | recall@5 filtered | find similar index step p50 / p99 ms "
    "| filtered p50 / p99 ms | exact index p50 / p99 ms | index MB per worker (private) "
    "| index MB per host, 4 workers (exact index) | worker cold start s | build s | artifact MB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def exact_index(
    cat: SyntheticCatalogue, projected: np.ndarray, projection: projection_mod.ProjectionData
) -> EmbeddingIndex:
    """The exact in-memory index over the same projected rows (as it holds them)."""
    index = EmbeddingIndex.from_arrays([], np.zeros((0, 2048), np.float32), projection=projection)
    index._matrix = projected
    index._ids = cat.ids
    index._size = cat.rows
    attributes = cat.attributes()
    for name in FILTER_FIELDS:
        values = attributes.get(name) or [""] * cat.rows
        index._codes[name] = np.asarray([index._code(name, v) for v in values], dtype=np.int32)
    index._row_of = {int(pid): row for row, pid in enumerate(cat.ids)}
    return index


def timed_ms(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = call()
    return out, 1000 * (time.perf_counter() - start)


def run(
    rows: int,
    *,
    queries: int = 200,
    workers: int = 4,
    factory: str = "IVF{nlist},SQ8",
    seed: int = 0,
    workdir: Path | None = None,
    nprobes: tuple[int, ...] = (),
    vectors_path: Path | None = None,
    styles_path: Path | None = None,
    log: Callable[[str], None] = print,
) -> AnnReport:
    import faiss

    _ids, real, labels = real_catalogue(vectors_path or default_vectors_path(), styles_path or default_styles_path())
    cat = SyntheticCatalogue(real, labels, rows, seed)
    projection, _share = projection_mod.projection_fit_vectors(real, 256, seed=seed)
    started = time.perf_counter()
    projected = np.empty((rows, 256), np.float32)
    for start in range(0, rows, 20_000):
        block = projection.apply(cat.vectors(slice(start, min(rows, start + 20_000))))
        projected[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    project_s = time.perf_counter() - started
    log(f"{rows:,} products made and projected in {project_s:.1f} s; building the artifact…")

    attributes = cat.attributes()
    exact = exact_index(cat, projected, projection)
    codes = np.stack([exact._codes[name][:rows] for name in FILTER_FIELDS])
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-ann-"))
    folder = workdir / f"v{rows}"
    started = time.perf_counter()
    raw = artifact_mod.build_faiss(projected, factory, seed=seed)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    tuned = nprobe_tune(
        raw,
        projected,
        target=float(vs_settings.FAISS_TARGET_RECALL),
        bound=int(vs_settings.FAISS_NPROBE_MAX),
        queries=int(vs_settings.FAISS_TUNE_QUERIES),
        rerank=CANDIDATES,
        seed=seed,
    )
    tune_s = time.perf_counter() - started
    log(f"nprobe tuned: {tuned.nprobe} (recall {tuned.recall:.3f} on the build's sample) in {tune_s:.1f} s")
    meta = {
        "model_version": MODEL_VERSION,
        "projection_id": None,
        "head_id": None,
        "change_watermark": 0,
        "factory": factory,
        "values": {name: list(exact._values[name]) for name in FILTER_FIELDS},
        "rows": rows,
        "tuning": {artifact_mod.SPACE_RAW: tuned.as_dict()},
    }
    started = time.perf_counter()
    artifact_mod.write_files(folder, meta=meta, ids=cat.ids, codes=codes, raw=raw, similar=None)
    build_s += time.perf_counter() - started
    nlist = faiss.extract_index_ivf(raw).nlist if "IVF" in factory else 0
    del raw
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    log(f"artifact built in {build_s:.1f} s, {size_mb:.0f} MB; searching…")

    index = FaissIndex.from_artifact(artifact_mod.open_mapped(folder, 1), projection)
    rng = np.random.default_rng(seed + 1)
    query_rows = np.sort(rng.choice(rows, queries, replace=False))
    truth = exact_truth(cat, query_rows, ())
    truth_f = exact_truth(cat, query_rows, NARROW)
    faiss_ms, faiss_f_ms, exact_ms, rerank_ms = [], [], [], []
    found = found_pca = found_f = total_f = full_k = with_k = 0
    matches = []
    for j, q in enumerate(query_rows.tolist()):
        pid = int(cat.ids[q])
        filters = {name: attributes[name][q] for name in NARROW}
        hits, ms = timed_ms(partial(index.similar_to_product, pid, CANDIDATES))
        faiss_ms.append(ms)
        top, ms = timed_ms(partial(reranked, cat, q, [h.product_id for h in hits]))
        rerank_ms.append(ms)
        found += len(set(top) & set(truth[j]))
        hits_e, ms = timed_ms(partial(exact.similar_to_product, pid, CANDIDATES))
        exact_ms.append(ms)
        found_pca += len(set(reranked(cat, q, [h.product_id for h in hits_e])) & set(truth[j]))
        hits_f, ms = timed_ms(partial(index.similar_to_product, pid, CANDIDATES, filters))
        faiss_f_ms.append(ms)
        top_f = reranked(cat, q, [h.product_id for h in hits_f])
        found_f += len(set(top_f) & set(truth_f[j]))
        total_f += len(truth_f[j])
        same = np.ones(rows, dtype=bool)
        for name in NARROW:
            same &= exact._codes[name][:rows] == exact._codes[name][q]
        matches.append(int(np.count_nonzero(same)) - 1)
        if len(truth_f[j]) == K:
            with_k += 1
            full_k += len(top_f) == K
    exact_mb = exact.memory_bytes() / 1e6
    compared = sorted({FORMER_DEFAULT_NPROBE, *(n for n in nprobes if n > 0)} - {tuned.nprobe})
    sweep = [probe(cat, index, query_rows, truth, truth_f, attributes, nprobe) for nprobe in compared]
    log("starting the worker processes…")
    reports = worker_processes(folder, workers, queries)
    return AnnReport(
        rows=rows,
        factory=factory,
        nlist=nlist,
        build_s=build_s,
        size_mb=size_mb,
        project_s=project_s,
        recall=found / (K * queries),
        recall_exact_pca=found_pca / (K * queries),
        recall_filtered=found_f / max(total_f, 1),
        filtered_k=full_k / max(with_k, 1),
        median_matches=float(statistics.median(matches)),
        faiss_p50_ms=percentile(faiss_ms, 50),
        faiss_p99_ms=percentile(faiss_ms, 99),
        faiss_filtered_p50_ms=percentile(faiss_f_ms, 50),
        faiss_filtered_p99_ms=percentile(faiss_f_ms, 99),
        exact_p50_ms=percentile(exact_ms, 50),
        exact_p99_ms=percentile(exact_ms, 99),
        rerank_p50_ms=percentile(rerank_ms, 50),
        exact_mb=exact_mb,
        tuning=tuned,
        tune_s=tune_s,
        workers=reports,
        mapped_mb=size_mb,
        sweep=sweep,
    )


def probe(
    cat: SyntheticCatalogue,
    index: FaissIndex,
    query_rows: np.ndarray,
    truth: list[list[int]],
    truth_f: list[list[int]],
    attributes: dict[str, list],
    nprobe: int,
) -> dict[str, float]:
    """FAISS recall and latency with VISUALSEARCH_FAISS_NPROBE = ``nprobe``."""
    from django.test import override_settings

    times, found, found_f, total_f = [], 0, 0, 0
    with override_settings(VISUALSEARCH_FAISS_NPROBE=nprobe):
        for j, q in enumerate(query_rows.tolist()):
            pid = int(cat.ids[q])
            hits, ms = timed_ms(partial(index.similar_to_product, pid, CANDIDATES))
            times.append(ms)
            found += len(set(reranked(cat, q, [h.product_id for h in hits])) & set(truth[j]))
            filters = {name: attributes[name][q] for name in NARROW}
            hits_f = index.similar_to_product(pid, CANDIDATES, filters)
            found_f += len(set(reranked(cat, q, [h.product_id for h in hits_f])) & set(truth_f[j]))
            total_f += len(truth_f[j])
    return {
        "nprobe": nprobe,
        "recall": found / (K * len(query_rows)),
        "recall_filtered": found_f / max(total_f, 1),
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
    }


def worker_processes(folder: Path, count: int, queries: int) -> list[dict]:
    """``count`` fresh processes at once (as gunicorn workers): Django, map, search."""
    manage = Path(settings.BASE_DIR) / "manage.py"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOOKALIKE_LAB": "1"}  # the lab's command in any settings
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(manage),
                "bench_ann",
                "--worker",
                str(folder),
                "--queries",
                str(queries),
                "--started",
                repr(time.time()),
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(count)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=1800)
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        out.append(json.loads(lines[-1]))
    return out


def smaps() -> dict[str, float]:
    """This process's memory (MB) from /proc/self/smaps_rollup."""
    fields = {}
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return fields


def worker(folder: Path, queries: int, started: float) -> dict:
    """One worker: map the artifact, answer find-similar queries; cold start and memory."""
    before = smaps()
    index = FaissIndex.from_artifact(artifact_mod.open_mapped(Path(folder), 1))
    rows = index._art.rows if index._art is not None else 0
    rng = np.random.default_rng(os.getpid())
    first = True
    cold = 0.0
    for pid in rng.integers(1, rows + 1, queries).tolist():
        index.similar_to_product(int(pid), CANDIDATES)
        if first:
            cold = time.time() - started
            first = False
    after = smaps()
    private = after.get("Private_Clean", 0) + after.get("Private_Dirty", 0)
    return {
        "cold_start_s": cold,
        "rss_mb": after.get("Rss", 0),
        "private_mb": private,
        "private_index_mb": private - before.get("Private_Clean", 0) - before.get("Private_Dirty", 0),
        "shared_mb": after.get("Shared_Clean", 0) + after.get("Shared_Dirty", 0),
    }
