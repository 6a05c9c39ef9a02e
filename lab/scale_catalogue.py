"""A large synthetic catalogue in PostgreSQL, made from a small real one (``loadtest_scale``).

The real part: ``count`` photos of the shared catalogue (../shared/datasets/fashion-small,
sampled with a fixed seed), embedded by the real model with the default engine and cached in
var/cache (``real_sample``), their labels from styles.csv. The synthetic part: N products whose
vectors are ``lab.bench_ann.SyntheticCatalogue``'s mixtures around those real vectors, each
with the labels, name and photo of the real product it was made from (the photos copied once
into the media folder), a price, three sizes with stock (85% of products have some), stored
as done embeddings under the synthetic model version (``lab.synthetic``): the index serves
them only with VISUALSEARCH_INDEX_SYNTHETIC on, and ``reindex --missing`` would replace them.
The PCA projection is fitted on a sample of the synthetic vectors (``projection_store``).
Rows are written with COPY in blocks, so 250,000 products take minutes, not hours.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lab.bench_ann import STYLE_COLUMNS, SyntheticCatalogue
from shop.models import Product, ProductVariant
from visualsearch.index.loading import SYNTHETIC_MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, Projection

BLOCK = 5_000
SIZES = ("S", "M", "L")
EMBEDDING_COLUMNS = (
    "product_id",
    "vector",
    "model_version",
    "source_checksum",
    "status",
    "error",
    "computed_at",
    "updated",
)
MEDIA_FOLDER = "products/scale"  # under MEDIA_ROOT: the real photos the synthetic products show


def default_dataset() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "datasets" / "fashion-small"


def default_cache(count: int) -> Path:
    return Path(settings.BASE_DIR) / "var" / "cache" / f"resnet50_sample_{count}.npz"


@dataclass
class RealSample:
    ids: np.ndarray  # the shared catalogue's product ids (its image names)
    vectors: np.ndarray  # (count, 2048) L2-normalised embeddings
    rows: list[dict[str, str]]  # styles.csv row of each

    def labels(self) -> dict[str, np.ndarray]:
        return {
            name: np.asarray([row.get(column) or "" for row in self.rows], dtype=object)
            for name, column in STYLE_COLUMNS.items()
        }

    def image(self, dataset: Path, i: int) -> Path:
        return dataset / "images" / f"{int(self.ids[i])}.jpg"


def styles(dataset: Path) -> dict[int, dict[str, str]]:
    rows: dict[int, dict[str, str]] = {}
    with open(dataset / "styles.csv", newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            try:
                rows[int(row["id"])] = row
            except (KeyError, ValueError):
                continue
    return rows


def real_sample(
    count: int,
    dataset: Path,
    cache: Path,
    *,
    seed: int = 0,
    batch: int = 32,
    on_batch: Callable[[int], None] = lambda n: None,
) -> RealSample:
    """``count`` photos of the shared catalogue with an article type, embedded by the real
    model (the cache reused when it holds the same ids)."""
    from visualsearch.ml import embedder
    from visualsearch.ml.preprocessing import bytes_to_model_input

    rows = styles(dataset)
    candidates = sorted(
        i for i, row in rows.items() if row.get("articleType") and (dataset / "images" / f"{i}.jpg").exists()
    )
    if len(candidates) < count:
        raise ValueError(f"{dataset} has {len(candidates)} usable photos, {count} asked for")
    ids = np.sort(np.asarray(random.Random(seed).sample(candidates, count), dtype=np.int64))
    if cache.exists():
        data = np.load(cache)
        if np.array_equal(np.asarray(data["ids"]), ids):
            return RealSample(ids, np.asarray(data["vectors"], np.float32), [rows[int(i)] for i in ids])
    vectors = np.empty((count, 2048), np.float32)
    for start in range(0, count, batch):
        chunk = ids[start : start + batch]
        pixels = np.stack([bytes_to_model_input((dataset / "images" / f"{i}.jpg").read_bytes()) for i in chunk])
        vectors[start : start + len(chunk)] = embedder.embed_batch(pixels)
        on_batch(len(chunk))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=ids, vectors=vectors)
    return RealSample(ids, vectors, [rows[int(i)] for i in ids])


def _copy_rows(table: str, columns: tuple[str, ...], lines: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT text)",
            io.StringIO("".join(lines)),
        )


def _text(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def photos_copy(sample: RealSample, dataset: Path) -> list[str]:
    """The sample's photos in the media folder (copied once); their storage names."""
    folder = Path(settings.MEDIA_ROOT) / MEDIA_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(len(sample.ids)):
        target = folder / f"{int(sample.ids[i])}.jpg"
        if not target.exists():
            shutil.copyfile(sample.image(dataset, i), target)
        names.append(f"{MEDIA_FOLDER}/{target.name}")
    return names


def catalogue_write(
    cat: SyntheticCatalogue,
    sample: RealSample,
    photos: list[str],
    *,
    seed: int = 0,
    on_block: Callable[[int], None] = lambda n: None,
) -> list[int]:
    """Write the synthetic catalogue's products, sizes and embeddings; their product ids in
    catalogue row order. No signals run (no embedding task, no change-log entry per row)."""
    rng = np.random.default_rng(seed + 7)
    now = timezone.now().isoformat()
    product_columns = (
        "name",
        "gender",
        "master_category",
        "sub_category",
        "article_type",
        "base_colour",
        "season",
        "year",
        "usage",
        "price",
        "image",
        "image_checksum",
        "thumbnail",
        "is_active",
        "created",
        "updated",
        "external_id",
    )
    product_ids: list[int] = []
    table = Product._meta.db_table
    for start in range(0, cat.rows, BLOCK):
        rows = np.arange(start, min(cat.rows, start + BLOCK))
        lines = []
        for r in rows.tolist():
            real = sample.rows[int(cat.a[r])]
            year = real.get("year") or ""
            price = Decimal(int(rng.integers(9, 120))) + Decimal("0.99")
            values = (
                f"{real.get('productDisplayName') or real.get('articleType')} #{r + 1}",
                real.get("gender") or "",
                real.get("masterCategory") or "",
                real.get("subCategory") or "",
                real.get("articleType") or "",
                real.get("baseColour") or "",
                real.get("season") or "",
                year if year.isdigit() else "\\N",
                real.get("usage") or "",
                price,
                photos[int(cat.a[r])],
                "",
                "",
                "t",
                now,
                now,
                f"scale-{r + 1}",
            )
            lines.append("\t".join(v if v == "\\N" else _text(v) for v in map(str, values)) + "\n")
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")  # no other writer meanwhile
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                (before,) = cursor.fetchone()
            _copy_rows(table, product_columns, lines)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {table} WHERE id > %s ORDER BY id", [before])
                block_ids = [pid for (pid,) in cursor.fetchall()]  # COPY keeps the input order
            if len(block_ids) != len(rows):
                raise RuntimeError(f"{len(block_ids)} products written, {len(rows)} expected")
            in_stock = cat.labels["in_stock"][rows]
            variant_lines = [
                f"{pid}\t{size}\t{order}\t{int(rng.integers(1, 6)) if stock else 0}\n"
                for pid, stock in zip(block_ids, in_stock.tolist(), strict=True)
                for order, size in enumerate(SIZES)
            ]
            _copy_rows(ProductVariant._meta.db_table, ("product_id", "size", "sort_order", "stock"), variant_lines)
            vectors = cat.vectors(rows)
            embedding_lines = [
                f"{pid}\t\\\\x{vector.astype('<f4').tobytes().hex()}\t{SYNTHETIC_MODEL_VERSION}\tsynthetic\t"
                f"{EmbeddingStatus.DONE.value}\t\t{now}\t{now}\n"
                for pid, vector in zip(block_ids, vectors, strict=True)
            ]
            _copy_rows(
                ProductEmbedding._meta.db_table,
                (
                    "product_id",
                    "vector",
                    "model_version",
                    "source_checksum",
                    "status",
                    "error",
                    "computed_at",
                    "updated",
                ),
                embedding_lines,
            )
        product_ids.extend(block_ids)
        on_block(len(rows))
    return product_ids


def projection_store(cat: SyntheticCatalogue, *, sample_rows: int = 20_000, seed: int = 0) -> Projection:
    """The site's PCA projection (VISUALSEARCH_INDEX_DIMS) fitted on a sample of the synthetic
    catalogue's vectors and stored as the current one (``projection_fit`` fits only on the
    real model's embeddings, which a synthetic catalogue has none of)."""
    from visualsearch.index.projection import projection_current_rows, projection_dims_wanted
    from visualsearch.ml.embedder import MODEL_VERSION
    from visualsearch.services.projection import projection_fit_vectors

    dims = projection_dims_wanted()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(cat.rows, min(sample_rows, cat.rows), replace=False))
    data, share = projection_fit_vectors(cat.vectors(rows), dims, seed=seed)
    with transaction.atomic():
        projection_current_rows().delete()
        return Projection.objects.create(
            model_version=MODEL_VERSION,
            dims=dims,
            mean=data.mean.astype("<f4").tobytes(),
            components=np.ascontiguousarray(data.components, dtype="<f4").tobytes(),
            fitted_on=len(rows),
            explained_variance=share,
        )


def artifact_reusable(products: int) -> Any:
    """The newest ready index artifact when an earlier run built it for this catalogue as it
    still is (``products`` rows, the current projection, nothing changed since: the change log
    ends at its watermark), else None."""
    from visualsearch.index.changelog import latest_change_id
    from visualsearch.index.loading import newest_ready_artifact
    from visualsearch.index.projection import projection_current_id

    row = newest_ready_artifact()
    if row is None or row.rows != products or row.projection_id != projection_current_id():
        return None
    if row.change_watermark < latest_change_id():
        return None
    return row


def catalogue_clear() -> int:
    """Remove an earlier run's synthetic products with their sizes and embeddings (SQL: the
    ORM's delete would collect 250,000 objects first); how many products went."""
    products = Product._meta.db_table
    chosen = f"SELECT id FROM {products} WHERE external_id LIKE 'scale-%%'"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ProductEmbedding._meta.db_table} WHERE product_id IN ({chosen})")
        cursor.execute(f"DELETE FROM {ProductVariant._meta.db_table} WHERE product_id IN ({chosen})")
        cursor.execute(f"DELETE FROM {products} WHERE external_id LIKE 'scale-%%'")
        return int(cursor.rowcount)
