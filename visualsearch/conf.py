"""Visual search's settings, each with its default once.

A Django setting ``VISUALSEARCH_<NAME>`` overrides the default (``config/settings.py`` sets
them from environment variables of the same name); code reads ``vs_settings.<NAME>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Model weights: an explicit file, else the cache folder ("" → BASE_DIR/var/models).
    "WEIGHTS": "",
    "MODEL_DIR": "",
    # Images per forward pass, and products per embedding task.
    "BATCH_SIZE": 32,
    "TASK_BATCH": 64,
    # How often each process looks for changed embeddings in the index change log.
    "INDEX_REFRESH_SECONDS": 2.0,
    # The change log is pruned after this long (when a reindex finishes).
    "INDEX_CHANGE_RETENTION_HOURS": 48,
    # PCA dimensions of the in-memory index (0 = the full 2048).
    "INDEX_DIMS": 256,
    # The index class (the seam where an approximate index plugs in, see README).
    "INDEX_CLASS": "visualsearch.index.memory.EmbeddingIndex",
    # "auto": the exact in-memory index below INDEX_AUTO_FAISS_ROWS searchable products, the
    # FAISS index (visualsearch.index.faiss_index.FaissIndex) from there on (README, "Past one
    # machine"): at 200k rows the exact index holds ~230 MB per process and loads in ~12 s.
    "INDEX_AUTO_FAISS_ROWS": 200_000,
    # FAISS index artifact (visualsearch.index.artifact, services/artifacts.py): the factory
    # string of both spaces ({nlist} is filled in from the row count), how many inverted lists
    # a search probes, filtered subsets scored exactly up to this many rows (decoded, ~5 µs a
    # row), the local cache folder ("" → BASE_DIR/var/index-cache), the storage prefix, how many
    # logged changes past the artifact's watermark make the periodic check build a new one
    # (below changelog.FULL_RELOAD_AFTER, where a process gives an artifact up), and how many
    # ready artifacts are kept.
    "FAISS_FACTORY": "IVF{nlist},SQ8",
    "FAISS_NPROBE": 96,
    "FAISS_EXACT_SUBSET": 4_000,
    "ARTIFACT_CACHE_DIR": "",
    "ARTIFACT_STORAGE_PREFIX": "visualsearch/index-artifacts",
    "ARTIFACT_REBUILD_CHANGES": 5_000,
    "ARTIFACT_KEEP": 3,
    # Load tests only: the index also serves seed_synthetic_embeddings' random vectors.
    "INDEX_SYNTHETIC": False,
    # Index hits re-scored with the full stored vectors (at least 4k; 0 = no re-rank).
    "RERANK_CANDIDATES": 32,
    # Photo search: upload limit, and how long a page waits for the query worker.
    "MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    # Shopper photos in formats decoded at full size (PNG, WebP, TIFF, …) are refused above
    # this many pixels (a 7071×7071 RGBA PNG would take 200 MB, 10 MP of RGBA ~80 MB); JPEGs are decoded at a
    # reduced scale, so they go up to the general MAX_IMAGE_PIXELS.
    "QUERY_MAX_PIXELS": 10_000_000,
    "QUERY_TIMEOUT": 15.0,
    # Photo-search embeddings in the web process (embedded default) or on the worker's
    # "query" queue (production: the web process never loads TensorFlow).
    "QUERY_IN_PROCESS": False,
    # Embeddings needed before the PCA projection is fitted.
    "PCA_MIN_ROWS": 2000,
    # The most results one search may ask for.
    "MAX_K": 50,
    # Similarity head (visualsearch.ml.head, services/heads.py): "find similar" ranks by the
    # active head + colour when there is one (False: always the raw vectors).
    "HEAD_ENABLED": True,
    # Training: epochs (the best on the validation products is kept), the colour weights
    # tried on the validation products, auxiliary label tasks, and the labels needed.
    "HEAD_EPOCHS": 30,
    "HEAD_COLOUR_WEIGHTS": (0.3, 0.5, 0.7, 1.0),
    "HEAD_AUX_LABELS": ("gender",),
    "HEAD_MIN_PER_CLASS": 5,
    "HEAD_MIN_LABELLED": 200,
    # Photo search's learned space (visualsearch.ml.photo_projection), trained with the head
    # on photo-like copies of training products embedded by the model (services/photo_pairs.py;
    # 0 training photos: none, photo search keeps the raw vectors). Fewer than MIN_PAIRS
    # usable photos: none either. Shrinkage, dimensions and colour weight are picked on the
    # validation photos; EVALUATION held-out photos per profile give the admin's figures.
    "HEAD_PHOTO_PAIRS": 2000,
    "HEAD_PHOTO_VALIDATION": 300,
    "HEAD_PHOTO_EVALUATION": 300,
    "HEAD_PHOTO_MIN_PAIRS": 500,
    "HEAD_PHOTO_SHRINKAGE": (0.3, 1.0, 3.0),
    "HEAD_PHOTO_DIMS": (256,),
    "HEAD_PHOTO_COLOUR_WEIGHTS": (0.1, 0.2, 0.3),
    # Photo search without a learned space: weight of the colour descriptor next to the raw vector, and how the
    # places after the best match are filled ("raw": the next raw matches; "similar": the
    # find-similar neighbours of the best match).
    "PHOTO_COLOUR_WEIGHT": 0.1,
    # Raw-vector candidates photo search re-scores with the full stored vectors.
    "PHOTO_CANDIDATES": 128,
    "PHOTO_FILL": "raw",
    # Photo search keeps each query's embedding (never the photo) and a small preview this
    # many seconds under a random token, so refining re-ranks without the photo or the model.
    "QUERY_TOKEN_SECONDS": 900,
    # Below this best score photo search says "Nothing in the shop looks very close"
    # (calibrated with `python manage.py photo_quality`: 600 catalogue shopper photos vs 132
    # non-fashion images; 2.8% of real product photos fall below it, 10.6% of non-fashion
    # images above it; see README, "Photo search").
    "PHOTO_CLOSE_THRESHOLD": 0.676,
    # Load the model when a query worker (celery worker_ready) or, in the embedded default,
    # the development server starts, so shoppers rarely wait for it.
    "WARM_UP": True,
}


class _VisualSearchSettings(AppSettings):
    # Folders under BASE_DIR/var unless set.
    _FOLDERS = {"MODEL_DIR": "models", "ARTIFACT_CACHE_DIR": "index-cache"}

    def resolve(self, name: str, value: Any, settings: Any) -> Any:
        if name in self._FOLDERS and not value:
            return Path(settings.BASE_DIR) / "var" / self._FOLDERS[name]
        return value


vs_settings = _VisualSearchSettings("VISUALSEARCH", DEFAULTS)
