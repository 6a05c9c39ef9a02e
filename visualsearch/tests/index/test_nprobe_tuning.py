"""FAISS probe counts tuned at artifact build (visualsearch.index.tuning): the tuned count reaches
the target recall where a small fixed one does not, the artifact stores it and the index serves
it (unless VISUALSEARCH_FAISS_NPROBE overrides it), a bound too low for the target is a warning
in the log and the admin, and the metrics report the count served."""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np
import pytest
from django.test import Client, override_settings
from django.urls import reverse

from visualsearch.index import artifact as artifact_mod
from visualsearch.index import reset_index
from visualsearch.index.faiss_index import FaissIndex
from visualsearch.index.loading import LiveIndex
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.index.tuning import exact_top, nprobe_tune, recall_at
from visualsearch.metrics import VisualSearchCollector
from visualsearch.models import IndexArtifact
from visualsearch.services import artifacts

TARGET = 0.975
ROWS = 3000


def clustered(dims: int = 2048, seed: int = 5, rows: int = ROWS) -> np.ndarray:
    """Unit vectors around 40 centres, close enough that a cluster spans several inverted lists."""
    rng = np.random.default_rng(seed)

    def unit(n: int) -> np.ndarray:
        x = rng.standard_normal((n, dims)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    vectors = unit(40)[rng.integers(0, 40, rows)] + 0.9 * unit(rows)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def held_out_recall(index: object, vectors: np.ndarray, nprobe: int) -> float:
    """Recall of the exact top 32 among FAISS's 32 candidates on queries the tuning did not sample."""
    rows = np.sort(np.random.default_rng(99).choice(len(vectors), 300, replace=False))
    return recall_at(index, vectors, rows, exact_top(vectors, rows, 32), nprobe, rerank=32)


def test_tuned_nprobe_reaches_the_target_where_a_fixed_small_one_does_not() -> None:
    vectors = clustered(dims=256)
    index = artifact_mod.build_faiss(vectors, "IVF{nlist},SQ8")
    fixed = 1
    assert held_out_recall(index, vectors, fixed) < 0.9

    tuned = nprobe_tune(index, vectors, target=TARGET, bound=256, queries=200, rerank=32)

    assert tuned.reached and tuned.recall >= TARGET
    assert fixed < tuned.nprobe < tuned.nlist and tuned.bound == tuned.nlist  # the bound is capped at nlist
    assert held_out_recall(index, vectors, tuned.nprobe) >= 0.97  # it holds on other products too
    # the smallest such count: one list fewer misses the target on the tuning's own sample
    sampled = np.sort(np.random.default_rng(0).choice(len(vectors), 200, replace=False))
    one_fewer = recall_at(index, vectors, sampled, exact_top(vectors, sampled, 32), tuned.nprobe - 1, rerank=32)
    assert one_fewer < TARGET


def test_a_bound_below_what_the_target_needs_is_reported() -> None:
    vectors = clustered(dims=256)
    index = artifact_mod.build_faiss(vectors, "IVF{nlist},SQ8")
    needed = nprobe_tune(index, vectors, target=TARGET, bound=256, queries=200, rerank=32).nprobe

    capped = nprobe_tune(index, vectors, target=TARGET, bound=needed - 1, queries=200, rerank=32)

    assert not capped.reached and capped.nprobe == needed - 1 and capped.recall < TARGET


@pytest.fixture
def artifact_site(tmp_path: Path):
    with override_settings(
        VISUALSEARCH_ARTIFACT_CACHE_DIR=str(tmp_path / "cache"),
        VISUALSEARCH_INDEX_CLASS="visualsearch.index.faiss_index.FaissIndex",
    ):
        reset_index()
        yield
    reset_index()


def build(vectors: np.ndarray) -> IndexArtifact:
    ids = np.arange(1, len(vectors) + 1)
    return artifacts.artifact_build(source=EmbeddingIndex.from_arrays(ids, vectors))


@pytest.mark.slow
@pytest.mark.django_db
def test_the_artifact_stores_and_serves_the_tuned_nprobe(artifact_site) -> None:
    vectors = clustered()
    row = build(vectors)
    assert row.state == IndexArtifact.State.READY, row.error
    tuned = row.tuning["raw"]
    assert tuned["reached"] and tuned["recall"] >= TARGET and tuned["queries"] == 200 and row.tuning_missed == []

    live = LiveIndex(uses_artifacts=True)
    live.ensure_fresh()
    served = live.structure
    assert isinstance(served, FaissIndex) and served.artifact.meta["tuning"]["raw"] == tuned
    assert served.nprobe() == tuned["nprobe"] and live.status().nprobe == {"raw": tuned["nprobe"]}
    # the searches probe that many lists: the same hits as FAISS itself at the tuned count
    queries = served.artifact.raw.reconstruct_batch(np.arange(0, 600, 20)).astype(np.float32)
    _s, labels = served.artifact.raw.search(queries, 8, params=faiss.SearchParametersIVF(nprobe=tuned["nprobe"]))
    got = [[h.product_id for h in served.search(q, 8)] for q in queries]
    assert got == [[int(served.artifact.ids[r]) for r in row_labels] for row_labels in labels]

    with override_settings(VISUALSEARCH_FAISS_NPROBE=7):  # an explicit count wins
        assert served.nprobe() == 7 and live.status().nprobe == {"raw": 7}


@pytest.mark.slow
@pytest.mark.django_db
def test_a_bound_too_low_warns_in_the_log_and_the_admin(artifact_site, caplog, admin_client: Client) -> None:
    with override_settings(VISUALSEARCH_FAISS_NPROBE_MAX=1), caplog.at_level(logging.WARNING):
        row = build(clustered())
    assert row.state == IndexArtifact.State.READY  # it still serves, with every list it may probe
    assert row.tuning["raw"]["nprobe"] == 1 and not row.tuning["raw"]["reached"] and row.tuning_missed == ["raw"]
    assert any("no nprobe up to 1 reaches recall 0.975 of the exact top 32" in r.getMessage() for r in caplog.records)

    content = admin_client.get(reverse("admin:visualsearch_reindex_dashboard")).content.decode()
    assert "Search index (FAISS)" in content and f"v{row.pk} <b>serving</b>" in content
    assert "no probe count up to the bound reaches the target recall in the raw space" in content
    assert "below the 0.975 target" in content


@pytest.mark.slow
@pytest.mark.django_db
def test_the_admin_and_the_metrics_show_the_tuned_count(artifact_site, admin_client: Client) -> None:
    row = build(clustered())
    tuned = row.tuning["raw"]
    content = admin_client.get(reverse("admin:visualsearch_reindex_dashboard")).content.decode()
    assert f"{tuned['nprobe']} of {tuned['nlist']} ({tuned['recall']:.3f})" in content
    assert "no probe count up to the bound" not in content

    from visualsearch.index import get_index

    get_index().ensure_fresh()  # this process serves the artifact
    families = {f.name: f for f in VisualSearchCollector().collect()}
    assert [(s.labels, s.value) for s in families["lookalike_index_nprobe"].samples] == [
        ({"space": "raw"}, float(tuned["nprobe"]))
    ]
    assert families["lookalike_index_tuned_recall"].samples[0].value == pytest.approx(tuned["recall"])
