"""How many inverted lists a FAISS search probes: tuned on the catalogue itself at artifact build.

Recall of an IVF index depends on how the catalogue's vectors cluster, so a fixed ``nprobe``
is right for one catalogue and wrong for the next. ``nprobe_tune`` samples products of the
catalogue as queries (find similar's query: a product's own vector, the product itself
excluded), finds each one's exact top k over the very vectors the index holds, and returns the
smallest ``nprobe`` (at most ``bound``) whose FAISS results reach ``target`` recall@k:

- the raw space (``rerank`` > 0): FAISS returns ``rerank`` candidates that the search services
  re-score with the full 2048-dim vectors, so the count must find what the exact index's
  candidates would: recall of the exact top ``rerank`` among FAISS's ``rerank`` (the full
  vectors' top k may rank anywhere in the projected top ``rerank``: a recall@k in the projected
  space alone would pass counts that lose them);
- the head space (``rerank`` = 0): FAISS's own top k are final, quantisation included.

Recall grows with ``nprobe`` (each probe adds lists), so a doubling ladder finds the first
count that passes and a bisection below it the smallest. When even ``bound`` (or every list)
misses the target the result says so (``reached`` False) and carries ``bound``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

K = 5


@dataclass(frozen=True)
class NprobeTuning:
    nprobe: int  # the smallest count reaching the target, else the bound
    recall: float  # recall@k at that count on the sampled queries (k: the candidates re-ranked, or 5)
    reached: bool  # whether the target was reached within the bound
    target: float
    bound: int  # the most lists the tuning could choose (min of the setting and nlist)
    nlist: int
    queries: int
    k: int = K

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NprobeTuning:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def ivf_of(index: Any) -> Any:
    """The inverted-file part of a FAISS index (whose nprobe a search sets), or None for a flat one."""
    import faiss

    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def exact_top(vectors: np.ndarray, rows: np.ndarray, k: int, chunk: int = 65_536) -> np.ndarray:
    """(queries, k) row numbers of each query row's exact top k by inner product, itself excluded."""
    queries = vectors[rows]
    best_s = np.full((len(rows), k), -np.inf, np.float32)
    best_r = np.full((len(rows), k), -1, np.int64)
    for start in range(0, len(vectors), chunk):
        scores = queries @ vectors[start : start + chunk].T  # (queries, chunk)
        inside = (rows >= start) & (rows < start + len(scores[0]))
        scores[np.flatnonzero(inside), rows[inside] - start] = -np.inf
        take = min(k, scores.shape[1])
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        merged_s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_r = np.concatenate([best_r, top + start], axis=1)
        keep = np.argsort(-merged_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(merged_s, keep, axis=1)
        best_r = np.take_along_axis(merged_r, keep, axis=1)
    return np.where(np.isfinite(best_s), best_r, -1)


def recall_at(
    index: Any, vectors: np.ndarray, rows: np.ndarray, truth: np.ndarray, nprobe: int, *, rerank: int, k: int = K
) -> float:
    """Recall@k of ``index`` probing ``nprobe`` lists for the query rows, against ``truth``."""
    import faiss as faiss_module

    faiss: Any = faiss_module  # its stubs miss the SWIG keyword arguments
    depth = rerank or k  # how many of FAISS's hits are compared with as many exact ones
    params = faiss.SearchParametersIVF(nprobe=int(nprobe)) if ivf_of(index) is not None else None
    _scores, labels = index.search(np.ascontiguousarray(vectors[rows]), depth + 1, params=params)  # +1: itself
    found = total = 0
    for j, row in enumerate(rows.tolist()):
        candidates = labels[j][(labels[j] >= 0) & (labels[j] != row)][:depth]
        expected = {int(r) for r in truth[j][:depth] if r >= 0}
        found += len(expected & {int(r) for r in candidates})
        total += len(expected)
    return found / total if total else 1.0


def nprobe_tune(
    index: Any,
    vectors: np.ndarray,
    *,
    target: float,
    bound: int,
    queries: int,
    rerank: int,
    seed: int = 0,
    k: int = K,
) -> NprobeTuning:
    """The smallest nprobe (≤ ``bound``) whose recall@k on ``queries`` sampled rows reaches ``target``."""

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ivf = ivf_of(index)
    nlist = int(ivf.nlist) if ivf is not None else 1
    bound = max(1, min(int(bound), nlist))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(vectors), min(queries, len(vectors)), replace=False)).astype(np.int64)
    truth = exact_top(vectors, rows, rerank or k)
    measured: dict[int, float] = {}

    def recall(p: int) -> float:
        if p not in measured:
            measured[p] = recall_at(index, vectors, rows, truth, p, rerank=rerank, k=k)
        return measured[p]

    low, high = 0, 1  # low: the largest count known to miss (0: none tried)
    while high < bound and recall(high) < target:
        low, high = high, min(bound, high * 2)
    if recall(high) < target:
        return NprobeTuning(bound, recall(bound), False, target, bound, nlist, len(rows), rerank or k)
    while high - low > 1:
        middle = (low + high) // 2
        if recall(middle) >= target:
            high = middle
        else:
            low = middle
    return NprobeTuning(high, recall(high), True, target, bound, nlist, len(rows), rerank or k)
