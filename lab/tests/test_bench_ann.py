"""The ANN benchmark's synthetic catalogue (mixtures around real vectors) and its ground truth;
and the whole benchmark on a tiny catalogue (slow: it starts a worker process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lab import bench_ann


def fake_real(count: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, 2048)).astype(np.float32)
    kind = rng.integers(0, 8, count)
    vectors = centres[kind] + 0.5 * rng.standard_normal((count, 2048)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = {name: np.asarray([f"{name}-{k % 3}" for k in kind], dtype=object) for name in bench_ann.STYLE_COLUMNS}
    labels["article_type"] = np.asarray([f"type-{k}" for k in kind], dtype=object)
    return vectors, labels


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_synthetic_catalogue_is_real_vectors_then_mixtures_around_them() -> None:
    real, labels = fake_real()
    cat = bench_ann.SyntheticCatalogue(real, labels, 1000, seed=1)
    first = cat.vectors(slice(0, 400))
    assert np.allclose(first, real, atol=1e-5)  # the real vectors come first, unchanged
    rest = cat.vectors(slice(400, 1000))
    assert np.allclose(np.linalg.norm(rest, axis=1), 1.0, atol=1e-5)
    # each made product stays near the real product it was made from, and keeps its labels
    near = np.einsum("ij,ij->i", rest, real[cat.a[400:]])
    assert near.mean() > 0.7 and near.min() > 0.3
    assert (cat.labels["article_type"][400:] == labels["article_type"][cat.a[400:]]).all()
    assert (labels["article_type"][cat.b] == labels["article_type"][cat.a]).all()  # same-type mixtures
    # made again on demand, the same vectors (up to the last bit: a slice and an index array
    # take other BLAS kernels on some CPUs)
    rows = np.asarray([999, 400, 5])
    np.testing.assert_allclose(cat.vectors(rows), np.stack([rest[599], rest[0], first[5]]), rtol=0, atol=1e-6)


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_exact_truth_is_the_brute_force_top_k_with_filters() -> None:
    real, labels = fake_real()
    cat = bench_ann.SyntheticCatalogue(real, labels, 900, seed=2)
    queries = np.asarray([3, 450, 899])
    everything = cat.vectors(slice(0, 900))
    for fields in ((), ("article_type", "in_stock")):
        truth = bench_ann.exact_truth(cat, queries, fields, chunk=128)
        for q, got in zip(queries.tolist(), truth, strict=True):
            scores = everything @ everything[q]
            scores[q] = -np.inf
            for name in fields:
                scores[cat.labels[name] != cat.labels[name][q]] = -np.inf
            assert got == np.argsort(-scores, kind="stable")[: bench_ann.K].tolist()


@pytest.mark.slow
def test_benchmark_runs_end_to_end_on_a_tiny_catalogue(tmp_path: Path) -> None:
    real, labels = fake_real(600)
    ids = np.arange(1, 601)
    np.savez(tmp_path / "real.npz", ids=ids, vectors=real)
    styles = tmp_path / "styles.csv"
    columns = list(bench_ann.STYLE_COLUMNS.values())
    lines = ["id," + ",".join(columns)]
    lines += [f"{i}," + ",".join(str(labels[f][i - 1]) for f in bench_ann.STYLE_COLUMNS) for i in ids]
    styles.write_text("\n".join(lines) + "\n")
    report = bench_ann.run(
        3000,
        queries=20,
        workers=1,
        workdir=tmp_path / "work",
        vectors_path=tmp_path / "real.npz",
        styles_path=styles,
        log=lambda line: None,
    )
    assert report.recall >= 0.9 and report.filtered_k == 1.0
    assert report.workers[0]["cold_start_s"] > 0 and report.size_mb > 0
    assert report.row().startswith("| 3,000 |")
    # served at the probe count tuned at build, compared with the former fixed default
    assert 1 <= report.tuning.nprobe <= report.nlist and report.tuning.queries == 200
    assert [p["nprobe"] for p in report.sweep] == [bench_ann.FORMER_DEFAULT_NPROBE]
    assert any(line.startswith(f"  nprobe tuned at build: {report.tuning.nprobe} ") for line in report.lines())
