"""Visual search's settings, each with its default once.

A Django setting ``VISUALSEARCH_<NAME>`` overrides the default (``config/settings/app_settings.py``
sets them from environment variables of the same name); code reads ``vs_settings.<NAME>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.conf import app_settings

# The repository's var/ folder (BASE_DIR/var): the default home of the weights and index cache.
VAR_DIR = Path(__file__).resolve().parent.parent / "var"


@dataclass(frozen=True)
class VisualSearchSettings:
    # Model weights: an explicit file, else the cache folder (unset or "": the repository's var/models).
    WEIGHTS: str = ""
    MODEL_DIR: Path = VAR_DIR / "models"
    # Images per forward pass, and products per embedding task.
    BATCH_SIZE: int = 32
    # Inference engine (visualsearch.ml.engines): "auto" runs ONNX Runtime when fetch_weights'
    # ONNX export passed its check against TensorFlow, else TensorFlow; "onnx" asks for ONNX
    # Runtime (TensorFlow with a warning when the export is missing or refused); "tensorflow"
    # always the reference. ENGINE_THREADS: ONNX Runtime's threads per process (0: one per core).
    ENGINE: Literal["auto", "onnx", "tensorflow"] = "auto"
    ENGINE_THREADS: int = 0
    # ONNX Runtime's threads spin (busy-wait) for more work between operators and after a run.
    # Off: on cores shared with the web processes a spinning query worker took ~1.8× the CPU
    # per forward pass (docs/benchmarks.md, issue 24); on a machine of its own, on saves ~1 ms.
    ENGINE_SPINNING: bool = False
    TASK_BATCH: int = 64
    # How often each process looks for changed embeddings in the index change log.
    INDEX_REFRESH_SECONDS: float = 2.0
    # The change log is pruned after this long (when a reindex finishes).
    INDEX_CHANGE_RETENTION_HOURS: int = 48
    # PCA dimensions of the in-memory index (0 = the full 2048).
    INDEX_DIMS: int = 256
    # The index class (the seam where an approximate index plugs in, docs/search-index.md).
    INDEX_CLASS: str = "visualsearch.index.memory.EmbeddingIndex"
    # "auto": the exact in-memory index below INDEX_AUTO_FAISS_ROWS searchable products, the
    # FAISS index (visualsearch.index.faiss_index.FaissIndex) from there on (docs/search-index.md, "Past one
    # machine"): past it the exact index's memory and load time per process grow too large
    # (figures: docs/search-index.md).
    INDEX_AUTO_FAISS_ROWS: int = 200_000
    # FAISS index artifact (visualsearch.index.artifact, services/artifacts.py): the factory
    # string of both spaces ({nlist} is filled in from the row count); how many inverted lists
    # a search probes: tuned per space at build (visualsearch.index.tuning: the smallest count
    # reaching FAISS_TARGET_RECALL recall@5 on FAISS_TUNE_QUERIES catalogue products against
    # exact search, at most FAISS_NPROBE_MAX, a warning when none does), unless FAISS_NPROBE
    # (> 0) sets it explicitly; filtered subsets scored exactly up to this many rows (each row
    # decoded), the local cache folder (unset or "": var/index-cache), the storage prefix,
    # how many logged changes past the artifact's watermark make the periodic check build a new
    # one (below changelog.FULL_RELOAD_AFTER, where a process gives an artifact up), and how
    # many ready artifacts are kept.
    FAISS_FACTORY: str = "IVF{nlist},SQ8"
    FAISS_NPROBE: int = 0
    FAISS_NPROBE_MAX: int = 256
    FAISS_TARGET_RECALL: float = 0.975
    FAISS_TUNE_QUERIES: int = 200
    FAISS_EXACT_SUBSET: int = 4_000
    ARTIFACT_CACHE_DIR: Path = VAR_DIR / "index-cache"
    ARTIFACT_STORAGE_PREFIX: str = "visualsearch/index-artifacts"
    ARTIFACT_REBUILD_CHANGES: int = 5_000
    ARTIFACT_KEEP: int = 3
    # Load tests only: the index also serves seed_synthetic_embeddings' random vectors.
    INDEX_SYNTHETIC: bool = False
    # Index hits re-scored with the full stored vectors (at least 4k; 0 = no re-rank).
    RERANK_CANDIDATES: int = 32
    # Find similar's rankings kept in the "search" cache (Redis) under the index's content and
    # the question (visualsearch.query.cache; any change the index applies gives new keys), for
    # this many seconds (0: never cached).
    SIMILAR_CACHE_SECONDS: int = 3600
    # Photo search: upload limit, and how long a page waits for the query worker.
    MAX_UPLOAD_BYTES: int = 10 * 1024 * 1024
    # Shopper photos in formats decoded at full size (PNG, WebP, TIFF, …) are refused above
    # this many pixels (full-size RGBA costs 4 bytes a pixel, docs/security.md); JPEGs are decoded at a
    # reduced scale, so they go up to the general MAX_IMAGE_PIXELS.
    QUERY_MAX_PIXELS: int = 10_000_000
    QUERY_TIMEOUT: float = 15.0
    # Photo-search embeddings in the web process (embedded default) or on the worker's
    # "query" queue (production: the web process never loads TensorFlow).
    QUERY_IN_PROCESS: bool = False
    # Embeddings needed before the PCA projection is fitted.
    PCA_MIN_ROWS: int = 2000
    # The most results one search may ask for.
    MAX_K: int = 50
    # "Similar, but cheaper" and price bounds (query/pricing.py): the nearest this many
    # products by look are the candidates; those within the price are kept, best look first.
    PRICE_CANDIDATES: int = 100
    # Similarity head (visualsearch.ml.head, services/heads.py): "find similar" ranks by the
    # active head + colour when there is one (False: always the raw vectors).
    HEAD_ENABLED: bool = True
    # Training: epochs (the best on the validation products is kept), the colour weights
    # tried on the validation products, auxiliary label tasks, and the labels needed.
    HEAD_EPOCHS: int = 30
    HEAD_COLOUR_WEIGHTS: tuple[float, ...] = (0.3, 0.5, 0.7, 1.0)
    HEAD_AUX_LABELS: tuple[str, ...] = ("gender",)
    HEAD_MIN_PER_CLASS: int = 5
    HEAD_MIN_LABELLED: int = 200
    # Activation needs evidence (services/head_evidence.py): at least this many held-out
    # products to measure on, and a paired bootstrap (this many resamples, this two-sided
    # confidence) in which the score rises and no headline figure falls beyond its noise.
    HEAD_MIN_EVAL_QUERIES: int = 300
    HEAD_BOOTSTRAP_SAMPLES: int = 2000
    HEAD_CONFIDENCE: float = 0.95
    # Held-out products the heads page shows with their 5 lookalikes before and after a retrain.
    HEAD_EXAMPLES: int = 4
    # Photo search's learned space (visualsearch.ml.photo_projection), trained with the head
    # on photo-like copies of training products embedded by the model (services/photo_pairs.py;
    # 0 training photos: none, photo search keeps the raw vectors). Fewer than MIN_PAIRS
    # usable photos: none either. Shrinkage, dimensions and colour weight are picked on the
    # validation photos; EVALUATION held-out photos per profile give the admin's figures.
    HEAD_PHOTO_PAIRS: int = 2000
    HEAD_PHOTO_VALIDATION: int = 300
    HEAD_PHOTO_EVALUATION: int = 300
    HEAD_PHOTO_MIN_PAIRS: int = 500
    # Besides those, photos of products lying small in a scene (visualsearch.ml.scenes, the
    # TRAINING backgrounds; never the evaluation's), the item's box cut as photo search cuts a
    # detected box: SCENES more training products, VALIDATION_SCENES more validation ones
    # (0: the choice is made on the hard photos alone, which kept the standard and hard
    # figures at 43k; 150 cost them 1-2 points; 2,000 scene photos found more real photos'
    # items than 1,000: docs/relevance.md).
    HEAD_PHOTO_SCENES: int = 2000
    HEAD_PHOTO_VALIDATION_SCENES: int = 0
    HEAD_PHOTO_SHRINKAGE: tuple[float, ...] = (0.3, 1.0, 3.0)
    HEAD_PHOTO_DIMS: tuple[int, ...] = (256,)
    HEAD_PHOTO_COLOUR_WEIGHTS: tuple[float, ...] = (0.1, 0.2, 0.3)
    # Photo search without a learned space: weight of the colour descriptor next to the raw vector.
    PHOTO_COLOUR_WEIGHT: float = 0.1
    # Raw-vector candidates photo search re-scores with the full stored vectors.
    PHOTO_CANDIDATES: int = 128
    # Photo search keeps each query's embedding (never the photo) and a small preview this
    # many seconds under a random token, so refining re-ranks without the photo or the model.
    QUERY_TOKEN_SECONDS: int = 900
    # Below this best score photo search says "Nothing in the shop looks very close"
    # (calibrated with `python manage.py photo_quality`: 600 catalogue shopper photos vs 132
    # non-fashion images; the error rates on each side are in docs/visual-search.md).
    PHOTO_CLOSE_THRESHOLD: float = 0.676
    # At or above this best score (the same raw score as "nothing close") photo search calls
    # its best match *the* photographed product: it is shown first even when sold out and
    # "in stock only" hides it from the lookalikes (calibrated with `python manage.py
    # exact_match_threshold` on the whole catalogue's products outside the evaluation split:
    # docs/relevance.md; 0.946 on a 1,500-product database called a wrong product exact for
    # 18% of photos of something not sold at 43k).
    PHOTO_EXACT_THRESHOLD: float = 0.987
    # An item the localiser finds alone, covering at least this share of the photo, is searched
    # by the whole photo: no second forward pass for its box (a photo of the product itself).
    # The smallest share at which no validation photo was found lower than by box + whole photo
    # (lab/experiments/localiser_whole_area.py; 0.5-0.7 cost standard photos self@1: docs/
    # relevance.md). One item on a studio-white backdrop is searched whole at any size. Above 1:
    # every detected box is embedded (both rules off).
    LOCALISER_WHOLE_PHOTO_AREA: float = 0.8
    # Load the model when a query worker (celery worker_ready) or, in the embedded default,
    # the development server starts, so shoppers rarely wait for it.
    WARM_UP: bool = True


vs_settings = app_settings("VISUALSEARCH", VisualSearchSettings)
