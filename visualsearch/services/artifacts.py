"""Building and publishing the FAISS index artifact (visualsearch.index.artifact).

``artifact_build`` runs on a worker (task ``build_index_artifact``): it loads the exact index
from PostgreSQL once (``visualsearch.index.loading.exact_index_load``: the projection, the
active head, every active product's vectors and attribute codes, and the change-log watermark
it read up to), builds one FAISS index per ranking space, tunes each one's probe count on the catalogue
(``artifact_nprobe_tune``: a warning in the log and the admin when no count within the bound
reaches the target recall), writes the files through Django's
storage under a new version and only then marks the ``IndexArtifact`` row READY. A failure
marks the row FAILED and leaves the previous ready artifact serving. Web processes pick a new
ready artifact up at their next refresh.

It runs after a reindex finishes (job_progress) and from the periodic check
``artifact_build_if_due`` once the change log has grown VISUALSEARCH_ARTIFACT_REBUILD_CHANGES
past the current artifact's watermark.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from visualsearch.conf import vs_settings
from visualsearch.index import artifact as artifact_mod
from visualsearch.index.images import ImageRows
from visualsearch.index.loading import exact_index_load, image_rows_read
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.index.tuning import NprobeTuning, nprobe_tune
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import IndexArtifact, IndexChange

logger = logging.getLogger(__name__)


def artifact_build(
    *,
    storage=None,
    source: EmbeddingIndex | None = None,
    images: ImageRows | None = None,
    watermark: int = 0,
) -> IndexArtifact:
    """Build, publish and return a new artifact (state READY, or FAILED with the error).

    ``source``: an index already built (tests, benchmarks), complete up to change-log entry
    ``watermark``, with ``images`` its more images (none when not given); else the exact
    index and the more images are loaded from the database."""
    storage = storage or default_storage
    row = IndexArtifact.objects.create(model_version=MODEL_VERSION, factory=str(vs_settings.FAISS_FACTORY))
    started = time.perf_counter()
    try:
        index = source
        if index is None:
            index, watermark = exact_index_load()
            images = image_rows_read(index.projection, index.head)
        n = len(index)
        if n == 0:
            raise ValueError("no searchable products to build an index artifact from")
        arrays = index.arrays()  # rows sorted by product id
        ids = arrays.ids
        raw = artifact_mod.build_faiss(arrays.matrix, row.factory)
        similar = artifact_mod.build_faiss(arrays.similar, row.factory) if arrays.similar is not None else None
        codes = arrays.codes
        tuning = {artifact_mod.SPACE_RAW: artifact_nprobe_tune(raw, arrays.matrix, rerank=True)}
        if similar is not None and arrays.similar is not None:
            tuning[artifact_mod.SPACE_SIMILAR] = artifact_nprobe_tune(similar, arrays.similar, rerank=False)
        for space, tuned in tuning.items():
            if not tuned.reached:
                logger.warning(
                    "index artifact v%s, %s space: no nprobe up to %d reaches recall %.3f of the exact top %d "
                    "(%.3f at %d); raise VISUALSEARCH_FAISS_NPROBE_MAX",
                    row.pk,
                    space,
                    tuned.bound,
                    tuned.target,
                    tuned.k,
                    tuned.recall,
                    tuned.nprobe,
                )
        image_arrays, images_meta = _images_build(row.pk, images, row.factory)
        meta: dict[str, Any] = {
            "model_version": MODEL_VERSION,
            "projection_id": index.projection.pk if index.projection is not None else None,
            "head_id": index.head.pk if index.head is not None else None,
            "change_watermark": int(watermark),
            "factory": row.factory,
            "values": arrays.values,
            "rows": int(n),
            "tuning": {space: tuned.as_dict() for space, tuned in tuning.items()},
            "images": images_meta,
        }
        prefix = f"{vs_settings.ARTIFACT_STORAGE_PREFIX}/v{row.pk}"
        size = 0
        with tempfile.TemporaryDirectory(prefix="index-artifact-") as tmp:
            folder = Path(tmp)
            artifact_mod.write_files(
                folder, meta=meta, ids=ids, codes=codes, raw=raw, similar=similar, images=image_arrays
            )
            for name in artifact_mod.FILES:  # meta.json last
                path = folder / name
                if not path.exists():
                    continue
                size += path.stat().st_size
                key = f"{prefix}/{name}"
                if storage.exists(key):
                    storage.delete(key)
                with open(path, "rb") as fh:
                    saved = storage.save(key, File(fh, name=name))
                if saved != key:
                    raise RuntimeError(f"storage saved {key} as {saved}")
        row.state = IndexArtifact.State.READY
        row.path = prefix
        row.rows = n
        row.projection_id = meta["projection_id"]
        row.head_id = meta["head_id"]
        row.change_watermark = meta["change_watermark"]
        row.size_bytes = size
        row.tuning = meta["tuning"]
        row.build_seconds = time.perf_counter() - started
        row.finished_at = timezone.now()
        row.save()
        logger.info("index artifact v%s: %d rows, %.1f MB, %.1f s", row.pk, n, size / 1e6, row.build_seconds)
        artifacts_prune(storage=storage)
    except Exception as exc:
        logger.exception("index artifact v%s failed: the previous one keeps serving", row.pk)
        IndexArtifact.objects.filter(pk=row.pk).update(
            state=IndexArtifact.State.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            build_seconds=time.perf_counter() - started,
            finished_at=timezone.now(),
        )
        row.refresh_from_db()
    return row


def _images_build(
    version: int, images: ImageRows | None, factory: str
) -> tuple[artifact_mod.ImageArrays | None, dict[str, Any] | None]:
    """The more images' FAISS index (photo search's space, the products' factory) and their
    part of meta.json; (None, None) without any."""
    if images is None or not len(images):
        return None, None
    arrays, products = images.arrays()  # rows sorted by image id
    raw = artifact_mod.build_faiss(arrays.matrix, factory)
    tuned = artifact_nprobe_tune(raw, arrays.matrix, rerank=True)
    if not tuned.reached:
        logger.warning(
            "index artifact v%s, more images: no nprobe up to %d reaches recall %.3f (%.3f at %d)",
            version,
            tuned.bound,
            tuned.target,
            tuned.recall,
            tuned.nprobe,
        )
    meta = {"rows": len(arrays.ids), "values": arrays.values, "tuning": {artifact_mod.SPACE_RAW: tuned.as_dict()}}
    return artifact_mod.ImageArrays(arrays.ids, products, arrays.codes, arrays.values, raw), meta


def artifact_nprobe_tune(index: Any, vectors: np.ndarray, *, rerank: bool) -> NprobeTuning:
    """The smallest nprobe of ``index`` reaching VISUALSEARCH_FAISS_TARGET_RECALL (at most
    VISUALSEARCH_FAISS_NPROBE_MAX): raw-space candidates are re-scored exactly as the search
    services do (``rerank``), head-space hits are final."""
    return nprobe_tune(
        index,
        vectors,
        target=float(vs_settings.FAISS_TARGET_RECALL),
        bound=int(vs_settings.FAISS_NPROBE_MAX),
        queries=int(vs_settings.FAISS_TUNE_QUERIES),
        rerank=max(int(vs_settings.RERANK_CANDIDATES), 1) if rerank else 0,
    )


def artifacts_prune(*, storage=None) -> None:
    """Delete all but the newest VISUALSEARCH_ARTIFACT_KEEP ready artifacts (and failed ones
    older than those), files included."""
    storage = storage or default_storage
    keep = list(
        IndexArtifact.objects.filter(state=IndexArtifact.State.READY).values_list("pk", flat=True)[
            : int(vs_settings.ARTIFACT_KEEP)
        ]
    )
    if not keep:
        return
    old = (
        IndexArtifact.objects.exclude(pk__in=keep).filter(pk__lt=max(keep)).exclude(state=IndexArtifact.State.BUILDING)
    )
    for row in old:
        for name in artifact_mod.FILES:
            key = f"{row.path}/{name}"
            if row.path and storage.exists(key):
                storage.delete(key)
        row.delete()


def artifact_wanted() -> bool:
    """Whether this site serves (or may serve) the FAISS index."""
    cls = str(vs_settings.INDEX_CLASS)
    return cls == "auto" or cls.endswith("FaissIndex")


def artifact_build_if_due() -> IndexArtifact | None:
    """The periodic check: build when the site serves FAISS and there is no artifact yet, the
    change log grew past VISUALSEARCH_ARTIFACT_REBUILD_CHANGES since the current one, the
    current one is half the change log's retention old, or of an older format."""
    if not artifact_wanted():
        return None
    recent = timezone.now() - timedelta(hours=1)
    if IndexArtifact.objects.filter(state=IndexArtifact.State.BUILDING, created__gte=recent).exists():
        return None  # one is being built
    current = IndexArtifact.objects.filter(state=IndexArtifact.State.READY).order_by("-id").first()
    if current is not None:
        pending = IndexChange.objects.filter(id__gt=current.change_watermark).count()
        # Rebuilt well before the change log it relies on is pruned (processes refuse it then).
        aging = current.created < timezone.now() - timedelta(hours=vs_settings.INDEX_CHANGE_RETENTION_HOURS / 2)
        # Written by an older version of the code (processes refuse it): rebuilt at once.
        outdated = artifact_format(current) != artifact_mod.FORMAT
        if pending < int(vs_settings.ARTIFACT_REBUILD_CHANGES) and not aging and not outdated:
            return None
    return artifact_build()


def artifact_format(row: IndexArtifact, *, storage=None) -> int | None:
    """The format an artifact's meta.json declares (None: unreadable)."""
    storage = storage or default_storage
    try:
        with storage.open(f"{row.path}/{artifact_mod.META}", "rb") as fh:
            return json.loads(fh.read()).get("format")
    except (OSError, ValueError):
        return None
