"""The figures similarity heads are measured, compared and activated on.

Find-similar precision on the fixed evaluation split (``visualsearch.ml.head.split_of``),
photo search's self-retrieval on held-out photos, and the one score heads compete on. Training
(``services/head_training.py``) and the admin read them; the lab's relevance report reuses them.

Each figure is also available per query (``find_similar_per_query``, ``photo_per_photo``), for
the paired test activation runs (``services/head_evidence.py``).

Same-picture twins: products listed twice with the same picture (an identical image checksum,
or stored vectors with cosine ≥ TWIN_COSINE). No photo can tell them apart, so photo figures
count finding a twin as finding the photographed product; the strict figures beside them
count only the product itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import self_ranks
from visualsearch.selectors import image_checksums, stored_embeddings_load
from visualsearch.services.photo_pairs import EmbeddedPhotoSet

LABEL_FIELDS = ("article_type", "base_colour", "gender", "sub_category")
K = 5
# Two stored vectors this close come from the same picture (a product listed twice).
TWIN_COSINE = 0.9999


@dataclass
class HeadData:
    """The searchable products in memory: ids, raw vectors, colour descriptors (NaN rows
    where none is stored) and labels."""

    ids: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray
    labels: dict[str, np.ndarray]
    # sha256 of each row's image ("" where unknown): same-picture twins (``catalogue_twins``).
    checksums: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def head_data_load() -> HeadData:
    """The products the index serves (active, with a vector of the current backbone)."""
    from visualsearch.index.loading import served_model_versions

    stored = stored_embeddings_load(LABEL_FIELDS, served_model_versions())
    return HeadData(
        stored.ids,
        stored.vectors,
        stored.colours,
        {k: np.asarray(v) for k, v in stored.fields.items()},
        image_checksums(stored.ids),
    )


@dataclass(frozen=True)
class Twins:
    """Same-picture twins: ``group[row]`` is the same number for rows showing the same picture
    (a row without a twin has a number of its own)."""

    group: np.ndarray

    @property
    def products(self) -> int:
        """Products that share their picture with at least one other."""
        _, counts = np.unique(self.group, return_counts=True)
        return int(counts[counts > 1].sum())

    @property
    def groups(self) -> int:
        _, counts = np.unique(self.group, return_counts=True)
        return int(np.count_nonzero(counts > 1))

    def summary(self) -> dict[str, int]:
        return {"products": self.products, "groups": self.groups}


def _union(parent: np.ndarray, a: int, b: int) -> None:
    while parent[a] != a:
        a = parent[a]
    while parent[b] != b:
        b = parent[b]
    if a != b:
        parent[max(a, b)] = min(a, b)


def _main_directions(unit: np.ndarray, count: int = 8, seed: int = 0) -> np.ndarray:
    """``count`` orthonormal directions along which the rows spread most (a few rounds of
    subspace iteration on a sample: cheap, no full SVD)."""
    sample = unit[:: max(1, len(unit) // 4000)]
    centred = sample - sample.mean(axis=0)
    basis = np.linalg.qr(np.random.default_rng(seed).standard_normal((unit.shape[1], count)))[0]
    for _ in range(4):
        basis = np.linalg.qr(centred.T @ (centred @ basis))[0]
    return basis.astype(np.float32)


def catalogue_twins(vectors: np.ndarray, checksums: np.ndarray | None = None) -> Twins:
    """Group the rows that show the same picture: an identical image checksum, or unit
    vectors with cosine ≥ TWIN_COSINE. Two vectors that close differ by at most
    sqrt(2·(1 − TWIN_COSINE)) along any direction, so the rows are sorted along the main
    direction and each is compared only with the neighbours within that band that are also
    that close along 7 more directions (a second or two for the whole catalogue, never an
    N×N matrix)."""
    count = len(vectors)
    parent = np.arange(count)
    if checksums is not None:
        by_checksum: dict[str, int] = {}
        for row, checksum in enumerate(checksums):
            if checksum:
                first = by_checksum.setdefault(str(checksum), row)
                if first != row:
                    _union(parent, first, row)
    if count > 1:
        unit = head_mod.l2n(np.asarray(vectors, np.float32))
        along = unit @ _main_directions(unit, min(8, unit.shape[1]))
        order = np.argsort(along[:, 0], kind="stable")
        band = float(np.sqrt(2.0 * (1.0 - TWIN_COSINE))) + 1e-5
        sorted_along = along[order]
        ends = np.searchsorted(sorted_along[:, 0], sorted_along[:, 0] + band, side="right")
        for position in np.flatnonzero(ends - np.arange(count) > 1):
            window = sorted_along[position + 1 : ends[position], 1:]
            near = np.abs(window - sorted_along[position, 1:]).max(axis=1) <= band
            if not near.any():
                continue
            row = order[position]
            others = order[position + 1 : ends[position]][near]
            for other in others[unit[others] @ unit[row] >= TWIN_COSINE]:
                _union(parent, int(row), int(other))
    roots = np.array([_root(parent, row) for row in range(count)], np.int64)
    return Twins(roots)


def _root(parent: np.ndarray, row: int) -> int:
    while parent[row] != row:
        row = parent[row]
    return int(row)


def head_data_twins(data: HeadData) -> Twins:
    return catalogue_twins(data.vectors, data.checksums)


def _joint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(a.astype(str), "\x1f"), b.astype(str))


def find_similar_found(matrix: np.ndarray, queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """The K rows of ``pool`` each row of ``queries`` finds (never itself), by dot product."""
    local = {int(r): i for i, r in enumerate(pool)}
    exclude = np.asarray([local.get(int(q), -1) for q in queries], np.int64)
    return pool[head_mod.knn_rows(matrix[pool], matrix[queries], K, exclude)]


def _share(labels: np.ndarray, queries: np.ndarray, found: np.ndarray, k: int) -> np.ndarray:
    return np.mean(labels[found[:, :k]] == labels[queries][:, None], axis=1)


def find_similar_per_query(
    matrix: np.ndarray, labels: dict[str, np.ndarray], queries: np.ndarray, pool: np.ndarray
) -> dict[str, np.ndarray]:
    """Each query's own find-similar figures (one value per row of ``queries``)."""
    if len(queries) == 0 or len(pool) <= K:
        return {}
    found = find_similar_found(matrix, queries, pool)
    t, c, g = labels["article_type"], labels["base_colour"], labels["gender"]
    return {
        "p1_type": _share(t, queries, found, 1),
        "p5_type": _share(t, queries, found, K),
        "p5_sub": _share(labels["sub_category"], queries, found, K),
        "p5_colour": _share(c, queries, found, K),
        "p5_type_colour": _share(_joint(t, c), queries, found, K),
        "p5_type_gender": _share(_joint(t, g), queries, found, K),
    }


def figures_mean(per_query: dict[str, np.ndarray]) -> dict[str, float]:
    """The figures of per-query values: their means, and how many queries ("queries"/"photos")."""
    return {key: float(np.mean(values)) for key, values in per_query.items()}


def find_similar_figures(
    matrix: np.ndarray, labels: dict[str, np.ndarray], queries: np.ndarray, pool: np.ndarray
) -> dict[str, float]:
    """Find-similar precision of the rows ``queries`` searched among the rows ``pool`` (never
    themselves) by dot product of ``matrix`` rows: the figures the admin and evaluate show."""
    per_query = find_similar_per_query(matrix, labels, queries, pool)
    if not per_query:
        return {}
    return {**figures_mean(per_query), "queries": len(queries)}


def score(figures: dict[str, float], photo: dict[str, float] | None = None) -> float:
    """The one number heads are compared by: P@5 type + P@5 type∧colour (find similar's two
    targets), plus photo self@1 + self@5 (``photo``: ``photo_figures``) when measured."""
    photo = photo or {}
    return float(
        figures.get("p5_type", 0.0)
        + figures.get("p5_type_colour", 0.0)
        + photo.get("self_at_1", 0.0)
        + photo.get("self_at_5", 0.0)
    )


def raw_matrix(data: HeadData) -> np.ndarray:
    return head_mod.l2n(data.vectors)


def photo_per_photo(
    data: HeadData,
    model: head_mod.SimilarityModel | None,
    photos: EmbeddedPhotoSet,
    twins: Twins | None = None,
) -> dict[str, np.ndarray]:
    """Each held-out photo's own figures, searched among the whole catalogue (each product
    scored by its best variant of the photo, as the site does): found first / in the first 5,
    a same-picture twin counting as the product (``self_at_1``, ``self_at_5``; ``twins``: None
    finds them here), and strictly the product itself (``strict_self_at_1``, ``_5``). The
    model's learned space (+ its colour weight), or the raw vectors (+ the site's colour
    weight) for a model without one (or None)."""
    if len(photos) == 0:
        return {}
    twins = head_data_twins(data) if twins is None else twins
    raw = raw_matrix(data)
    projection = model.photo if model is not None else None
    into_space: Callable[[np.ndarray], np.ndarray]
    if projection is None:
        space, weight, into_space = raw, float(vs_settings.PHOTO_COLOUR_WEIGHT), head_mod.l2n
    else:
        space, weight, into_space = projection.apply(raw), projection.colour_weight, projection.apply
    (first, first_colours), *others = [(into_space(vectors), colours) for vectors, colours in photos.variants()]
    common = {
        "query_colours": first_colours,
        "catalogue_colours": data.colours,
        "colour_weight": weight,
        "variants": others,
    }
    strict = self_ranks(first, space, photos.rows, **common)  # type: ignore[arg-type]
    twin = self_ranks(first, space, photos.rows, groups=twins.group, **common)  # type: ignore[arg-type]
    return {
        "self_at_1": (twin < 1).astype(np.float64),
        "self_at_5": (twin < K).astype(np.float64),
        "strict_self_at_1": (strict < 1).astype(np.float64),
        "strict_self_at_5": (strict < K).astype(np.float64),
    }


def photo_figures(
    data: HeadData,
    model: head_mod.SimilarityModel | None,
    photos: EmbeddedPhotoSet,
    twins: Twins | None = None,
) -> dict[str, float]:
    """Photo search's figures for held-out photos (``photo_per_photo``'s means)."""
    per_photo = photo_per_photo(data, model, photos, twins)
    if not per_photo:
        return {}
    return {**figures_mean(per_photo), "photos": len(photos)}


def evaluation_queries(data: HeadData) -> np.ndarray:
    """The rows find similar is measured on: the evaluation split's labelled products."""
    split = head_mod.split_of(data.ids)
    return np.flatnonzero((split == "eval") & (data.labels["article_type"] != ""))


def similar_matrix(data: HeadData, model: head_mod.SimilarityModel | None) -> np.ndarray:
    """The rows find similar ranks by: the model's (head + colour), or the raw vectors (None)."""
    raw = raw_matrix(data)
    return raw if model is None else model.similar_vectors(raw, data.colours)


def evaluation_per_query(data: HeadData, model: head_mod.SimilarityModel | None) -> dict[str, np.ndarray]:
    """Find-similar figures of each evaluation query (searched among the whole catalogue, as
    the site does), for a model or the raw vectors (None)."""
    matrix, pool = similar_matrix(data, model), np.arange(len(data))
    return find_similar_per_query(matrix, data.labels, evaluation_queries(data), pool)


def evaluation_figures(data: HeadData, model: head_mod.SimilarityModel | None) -> dict[str, float]:
    """Find-similar figures on the evaluation split (queries: its labelled products; searched
    among the whole catalogue, as the site does), for a model or the raw vectors (None)."""
    per_query = evaluation_per_query(data, model)
    return {**figures_mean(per_query), "queries": len(evaluation_queries(data))} if per_query else {}
