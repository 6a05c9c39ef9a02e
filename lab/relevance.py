"""How good "find similar" is on the labelled catalogue: precision of its 5 results.

The evaluation reads the searchable embeddings once (``load_catalogue``), builds a static
index over them in memory (``EmbeddingIndex.from_arrays``) with the projection the site
serves — the stored PCA projection, or one fitted in memory only when none is stored —
and asks it, as the search services do, for each sampled product's best candidates, then
re-scores them with the full 2048-dim vectors. Nothing is written to the database: a
projection stored by an evaluation would make every web process reload its index.

Figures per run (``Scores``): P@5 and P@1 on the article type, P@5 on the sub category,
colour, type∧colour and type∧gender, per master category, and the worst article types. A
query with fewer than 5 results counts the missing ones as misses.

The ``evaluate`` command queries only the held-out split (``visualsearch.ml.head.split_of``:
products no similarity head is ever trained or tuned on) and reports the raw backbone and
the active configuration side by side: find similar by the active head + colour, and
photo search (``evaluate_photos``: fixed synthetic shopper photos of held-out products,
``shopper_photos``) through ``visualsearch.query.ranking.rank_photo``, the ranking the site uses.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from shop.attributes import SEARCHABLE_FIELDS
from visualsearch.conf import vs_settings
from visualsearch.index.base import NotIndexed
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.ml.head import SimilarityModel
from visualsearch.selectors import REFINEMENTS, image_checksums, stored_embeddings_load
from visualsearch.services import projection as projection_mod
from visualsearch.services.head_figures import TWIN_COSINE as TWIN_COSINE  # same picture above this cosine
from visualsearch.services.head_figures import Twins
from visualsearch.services.head_figures import catalogue_twins as find_twins

if TYPE_CHECKING:
    from visualsearch.services.photo_pairs import EmbeddedPhotoSet

K = 5
REFINEMENT_RUNS = ("same_gender", "same_master", "same_sub")


@dataclass(frozen=True)
class Catalogue:
    """Searchable products in memory: ids, raw unit vectors and filter attributes, row by row."""

    ids: np.ndarray  # (N,) int64
    vectors: np.ndarray  # (N, 2048) float32
    attributes: Mapping[str, Sequence[str]]  # SEARCHABLE_FIELDS → one value per row
    colours: np.ndarray | None = None  # (N, 196) colour descriptors, NaN rows where none is stored
    checksums: np.ndarray | None = None  # (N,) sha256 of each product's image ("" where unknown)

    def __len__(self) -> int:
        return len(self.ids)

    def value(self, name: str, row: int) -> str:
        return self.attributes[name][row]


def load_catalogue() -> Catalogue:
    """The products the site's index serves (active, with a vector of the current model)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    stored = stored_embeddings_load(SEARCHABLE_FIELDS, [MODEL_VERSION])
    return Catalogue(stored.ids, stored.vectors, stored.fields, stored.colours, image_checksums(stored.ids))


def catalogue_twins(catalogue: Catalogue) -> Twins:
    """The catalogue's same-picture twins (identical image checksum, or stored cosine ≥
    TWIN_COSINE): ``visualsearch.services.head_figures.catalogue_twins``, as the heads page counts them."""
    return find_twins(catalogue.vectors, catalogue.checksums)


def held_out_rows(catalogue: Catalogue) -> np.ndarray:
    """Rows of the products in the fixed evaluation split (never trained or tuned on)."""
    from visualsearch.ml.head import split_of

    return np.flatnonzero(split_of(catalogue.ids) == "eval")


def sample_queries(catalogue: Catalogue, size: int, seed: int, *, held_out: bool = False) -> np.ndarray:
    """Rows of ``size`` random labelled products (an article type), in id order (all if
    fewer); with ``held_out`` only products of the evaluation split."""
    allowed = set(held_out_rows(catalogue).tolist()) if held_out else None
    rows = np.asarray(
        [i for i, t in enumerate(catalogue.attributes["article_type"]) if t and (allowed is None or i in allowed)],
        dtype=np.int64,
    )
    if size < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))
    return rows


@dataclass(frozen=True)
class ProjectionChoice:
    """The projection an evaluation indexes with, and where it came from."""

    data: projection_mod.ProjectionData | None
    source: str  # "none" (full vectors), "stored" or "fitted in memory"
    fitted_on: int = 0
    explained_variance: float = 0.0

    def describe(self, dims: int) -> str:
        if dims <= 0:
            return "none (--dims 0): full 2048-dim vectors"
        if self.data is None:
            return f"too few embeddings to fit PCA-{dims}: full 2048-dim vectors"
        where = "stored" if self.source == "stored" else "fitted in memory for this evaluation, not stored"
        return (
            f"PCA-{self.data.dims} ({where}) fitted on {self.fitted_on} embeddings "
            f"({100 * self.explained_variance:.1f}% of the variance)"
        )


def choose_projection(catalogue: Catalogue, dims: int, *, seed: int = 0) -> ProjectionChoice:
    """The stored PCA-``dims`` projection of the current model, as the site would use it;
    without one, a projection fitted in memory on a sample of the catalogue (as
    ``projection_fit`` would fit it) when enough embeddings exist, else none."""
    from visualsearch.ml.embedder import MODEL_VERSION
    from visualsearch.models import Projection

    if dims <= 0:
        return ProjectionChoice(None, "none")
    row = Projection.objects.filter(model_version=MODEL_VERSION, dims=dims).first()
    if row is not None:
        return ProjectionChoice(
            projection_mod.ProjectionData.from_model(row), "stored", row.fitted_on, row.explained_variance
        )
    if len(catalogue) < max(int(vs_settings.PCA_MIN_ROWS), dims * 2):
        return ProjectionChoice(None, "none")
    sample = np.random.default_rng(seed).choice(
        len(catalogue), size=min(projection_mod.SAMPLE_ROWS, len(catalogue)), replace=False
    )
    data, explained = projection_mod.projection_fit_vectors(catalogue.vectors[np.sort(sample)], dims, seed=seed)
    return ProjectionChoice(data, "fitted in memory", len(sample), explained)


def build_index(
    catalogue: Catalogue,
    projection: projection_mod.ProjectionData | None,
    head: SimilarityModel | None = None,
    head_pk: int = 0,
) -> EmbeddingIndex:
    """A static in-memory index over the catalogue (reads and writes no database), with a
    similarity head for find similar when one is given."""
    return EmbeddingIndex.from_arrays(
        catalogue.ids,
        catalogue.vectors,
        catalogue.attributes,
        projection=projection,
        colours=catalogue.colours,
        head=head,
        head_pk=head_pk,
    )


class Searcher:
    """Find similar over an evaluation index: the index's best candidates, re-scored with the
    full vectors when the index is projected, as ``visualsearch.query.ranking`` ranks them."""

    def __init__(self, catalogue: Catalogue, index: EmbeddingIndex, rerank_candidates: int) -> None:
        self.catalogue = catalogue
        self.index = index
        self.row_of = {int(pid): row for row, pid in enumerate(catalogue.ids)}
        # The same candidate count as the site (visualsearch.query.ranking.rerank_candidates); with
        # a head the index's find-similar hits are final (head + colour scores).
        exact = index.projected and rerank_candidates > 0 and index.head_version is None
        self.candidates = max(K * 4, rerank_candidates) if exact else 0

    def filters(self, row: int, toggles: Mapping[str, str]) -> dict[str, str]:
        """The query product's own values of the refinements switched on."""
        return {REFINEMENTS[t][0]: self.catalogue.value(REFINEMENTS[t][0], row) for t in toggles if t in REFINEMENTS}

    def similar(self, row: int, toggles: Mapping[str, str], k: int = K) -> list[int]:
        """Rows of the k products most similar to the product in ``row`` (never itself)."""
        product_id = int(self.catalogue.ids[row])
        try:
            hits = self.index.similar_to_product(product_id, self.candidates or k, self.filters(row, toggles))
        except NotIndexed:
            return []
        rows = [self.row_of[h.product_id] for h in hits]
        if self.candidates and rows:
            scores = self.catalogue.vectors[rows] @ self.catalogue.vectors[row]
            rows = [rows[i] for i in np.argsort(-scores, kind="stable")]
        if row in rows:
            raise AssertionError(f"find similar returned product {product_id} itself")
        return rows[:k]


@dataclass
class Scores:
    """Per-query precision figures of one run."""

    type_at_5: list[float] = field(default_factory=list)
    type_at_1: list[float] = field(default_factory=list)
    sub_at_5: list[float] = field(default_factory=list)
    colour_at_5: list[float] = field(default_factory=list)
    type_colour_at_5: list[float] = field(default_factory=list)
    type_gender_at_5: list[float] = field(default_factory=list)
    masters: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    @property
    def queries(self) -> int:
        return len(self.type_at_5)


def precision(catalogue: Catalogue, query: int, results: Sequence[int], attribute: str, k: int = K) -> float:
    """Share of the k slots holding a product with the query's value of ``attribute``."""
    wanted = catalogue.value(attribute, query)
    return sum(catalogue.value(attribute, r) == wanted for r in results[:k]) / k


def precision_both(
    catalogue: Catalogue, query: int, results: Sequence[int], first: str, second: str, k: int = K
) -> float:
    """Share of the k slots holding a product with the query's values of both attributes."""
    wanted = (catalogue.value(first, query), catalogue.value(second, query))
    return sum((catalogue.value(first, r), catalogue.value(second, r)) == wanted for r in results[:k]) / k


def run_queries(searcher: Searcher, queries: Sequence[int] | np.ndarray, toggles: Mapping[str, str]) -> Scores:
    """Each query product's 5 "find similar" results, scored."""
    catalogue = searcher.catalogue
    scores = Scores()
    for row in queries:
        found = searcher.similar(int(row), toggles)
        scores.type_at_5.append(precision(catalogue, row, found, "article_type"))
        scores.type_at_1.append(precision(catalogue, row, found, "article_type", k=1))
        scores.sub_at_5.append(precision(catalogue, row, found, "sub_category"))
        scores.colour_at_5.append(precision(catalogue, row, found, "base_colour"))
        scores.type_colour_at_5.append(precision_both(catalogue, row, found, "article_type", "base_colour"))
        scores.type_gender_at_5.append(precision_both(catalogue, row, found, "article_type", "gender"))
        scores.masters.append(catalogue.value("master_category", row))
        scores.types.append(catalogue.value("article_type", row))
    return scores


def grouped_means(values: Sequence[float], groups: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Mean and count of the values per group."""
    buckets: dict[str, list[float]] = defaultdict(list)
    for value, group in zip(values, groups, strict=True):
        buckets[group].append(value)
    return {group: (float(np.mean(v)), len(v)) for group, v in buckets.items()}


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else 0.0


@dataclass
class RelevanceReport:
    index_size: int
    space: str  # e.g. "PCA-256 + exact 2048-dim re-rank"
    projection: ProjectionChoice
    index_seconds: float  # choosing the projection and building the index
    queries: int
    base: Scores
    refined: dict[str, Scores]  # refinement toggle → scores with it switched on
    search_seconds: float
    searches: int
    index: EmbeddingIndex | None = None  # what was searched (photo search reuses it)

    @property
    def by_master(self) -> dict[str, tuple[float, int]]:
        """P@5 on the article type per master category of the query."""
        return grouped_means(self.base.type_at_5, self.base.masters)

    def worst_types(self, count: int, min_queries: int) -> tuple[list[tuple[float, int, str]], int]:
        """The ``count`` article types with the lowest P@5 among those with at least
        ``min_queries`` queries, as (P@5, queries, type), and how many types qualified."""
        by_type = grouped_means(self.base.type_at_5, self.base.types)
        eligible = [(m, n, name) for name, (m, n) in by_type.items() if n >= min_queries]
        return sorted(eligible)[:count], len(eligible)

    def figures(self) -> list[tuple[str, float]]:
        """(label, value) of the headline figures, in the order the command prints them."""
        lines = [
            ("P@5 articleType", mean(self.base.type_at_5)),
            ("P@1 articleType", mean(self.base.type_at_1)),
            ("P@5 subCategory", mean(self.base.sub_at_5)),
            ("P@5 baseColour", mean(self.base.colour_at_5)),
            ("P@5 articleType+baseColour", mean(self.base.type_colour_at_5)),
            ("P@5 articleType+gender", mean(self.base.type_gender_at_5)),
        ]
        lines += [(f"P@5 articleType [{m}]", v) for m, (v, _n) in sorted(self.by_master.items())]
        return lines


class TooFewProducts(ValueError):
    pass


def evaluate_relevance(
    catalogue: Catalogue,
    *,
    sample: int,
    seed: int,
    dims: int,
    rerank_candidates: int,
    held_out: bool = False,
    head: SimilarityModel | None = None,
    head_pk: int = 0,
    projection: ProjectionChoice | None = None,
) -> RelevanceReport:
    """Precision of "find similar" on ``sample`` random labelled products of the catalogue
    (``held_out``: of the evaluation split only), indexed with PCA-``dims`` (0: full
    vectors), re-ranked as the site does (0: no re-rank), or ranked by ``head``."""
    if len(catalogue) <= K:
        raise TooFewProducts(f"Only {len(catalogue)} products are analysed: embed more before evaluating.")
    started = time.perf_counter()
    projection = projection or choose_projection(catalogue, dims)
    index = build_index(catalogue, projection.data, head, head_pk)
    index_seconds = time.perf_counter() - started
    searcher = Searcher(catalogue, index, rerank_candidates)
    space = "2048"
    if index.projected:
        space = f"PCA-{index.dims}" + (" + exact 2048-dim re-rank" if searcher.candidates else "")
    if index.head_version:
        space = f"{index.head_version} (head {head.head.out_dim if head else 0}-dim + colour)"
    queries = sample_queries(catalogue, sample, seed, held_out=held_out)
    started = time.perf_counter()
    base = run_queries(searcher, queries, {})
    refined = {toggle: run_queries(searcher, queries, {toggle: "1"}) for toggle in REFINEMENT_RUNS}
    return RelevanceReport(
        index_size=len(index),
        space=space,
        projection=projection,
        index_seconds=index_seconds,
        queries=len(queries),
        base=base,
        refined=refined,
        search_seconds=time.perf_counter() - started,
        searches=len(queries) * (1 + len(REFINEMENT_RUNS)),
        index=index,
    )


def report_lines(report: RelevanceReport, *, dims: int, seed: int, worst: int, min_queries: int) -> list[str]:
    """The evaluation as the command prints it: "# " lines describe, the others are figures."""
    each = 1000 * report.search_seconds / max(report.searches, 1)
    lines = [
        f"# projection: {report.projection.describe(dims)}",
        f"# index: {report.index_size} vectors, {report.space} (built in {report.index_seconds:.1f} s)",
        f"# queries: {report.queries} products (seed {seed}), k={K}",
        *(f"{label} {value:.3f}" for label, value in report.figures()),
    ]
    listed, eligible = report.worst_types(worst, min_queries)
    lines.append(f"# {worst} worst article types (of {eligible} with at least {min_queries} queries):")
    lines += [f"worst articleType {name}: P@5 {value:.3f} ({count} queries)" for value, count, name in listed]
    lines += [f"P@5 articleType {toggle} {mean(scores.type_at_5):.3f}" for toggle, scores in report.refined.items()]
    lines.append(f"# {report.searches} searches in {report.search_seconds:.1f} s ({each:.2f} ms each)")
    return lines


# --- photo search on shopper photos --------------------------------------------------------


@dataclass
class PhotoScores:
    """Shopper photos of held-out products searched through photo search's ranking."""

    self_at_1: list[float] = field(default_factory=list)
    self_at_5: list[float] = field(default_factory=list)
    type_at_5: list[float] = field(default_factory=list)
    # The same, counting a product with the very same catalogue picture (identical image
    # checksum, or TWIN_COSINE) as the photographed one: the headline photo figures. Some of the
    # shared catalogue's products have such a twin, and no photo can tell them apart (strict
    # self@1 is then a tie the ranking breaks either way).
    twin_at_1: list[float] = field(default_factory=list)
    twin_at_5: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def photos(self) -> int:
        return len(self.self_at_1)


def embed_shopper_photos(catalogue: Catalogue, count: int, profile: str = "standard") -> EmbeddedPhotoSet:
    """The fixed shopper photos (``shopper_photos``, of the named profile) of ``count``
    held-out products, decoded, prepared and embedded exactly as
    ``visualsearch.query.similar.similar_to_photo`` does (its ``decode_photo``: the default region,
    borders trimmed, and the whole photo where it was trimmed):
    ``services.photo_pairs.evaluation_photos_embed``, the photos a head's held-out photo
    figures are measured on."""
    from visualsearch.ml.shopper_photos import PROFILES
    from visualsearch.services.photo_pairs import evaluation_photos_embed

    return evaluation_photos_embed(catalogue.ids, count, profile=PROFILES[profile])


def evaluate_photos(
    catalogue: Catalogue,
    index: EmbeddingIndex,
    photos: EmbeddedPhotoSet,
    *,
    colour_weight: float | None = None,
    twins: Twins | None = None,
) -> PhotoScores:
    """Self@1 / self@5 (the photographed product first / in the 5 results) and P@5 article
    type of photo search, through ``visualsearch.query.ranking.rank_photo`` with the catalogue's
    arrays standing in for the stored vectors (None: the site's settings)."""
    from visualsearch.query.ranking import colours_from, rank_photo

    row_of = {int(pid): row for row, pid in enumerate(catalogue.ids)}
    colours = catalogue.colours

    def stored(product_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        out: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for pid in product_ids:
            row = row_of[int(pid)]
            colour = None if colours is None or not np.isfinite(colours[row]).all() else colours[row]
            out[int(pid)] = (catalogue.vectors[row], colour)
        return out

    colour_lookup = colours_from(stored)
    scores = PhotoScores()
    started = time.perf_counter()
    # Each photographed product's same-picture twins (``twins``: None finds them here).
    group = (catalogue_twins(catalogue) if twins is None else twins).group
    for number, row in enumerate(photos.rows):
        vector, colour = photos.query(number)
        hits = rank_photo(
            index, vector, colour, K, {}, stored=stored, stored_colours=colour_lookup, colour_weight=colour_weight
        )
        found = [row_of[h.product_id] for h in hits]
        scores.self_at_1.append(float(found[:1] == [row]))
        scores.self_at_5.append(float(row in found))
        same = set(np.flatnonzero(group == group[row]).tolist()) | {int(row)}
        scores.twin_at_1.append(float(bool(found) and found[0] in same))
        scores.twin_at_5.append(float(bool(same.intersection(found))))
        scores.type_at_5.append(precision(catalogue, int(row), found, "article_type"))
    scores.seconds = time.perf_counter() - started
    return scores


COMPARED = (
    ("P@5 articleType", "type_at_5"),
    ("P@1 articleType", "type_at_1"),
    ("P@5 subCategory", "sub_at_5"),
    ("P@5 baseColour", "colour_at_5"),
    ("P@5 articleType+baseColour", "type_colour_at_5"),
    ("P@5 articleType+gender", "type_gender_at_5"),
)


def comparison_lines(
    raw: RelevanceReport,
    configured: RelevanceReport,
    photo_sets: Sequence[tuple[str, PhotoScores, PhotoScores]],
    *,
    label: str,
) -> list[str]:
    """The held-out figures side by side: the raw backbone (the seed's pipeline) and the
    active configuration (``label``)."""
    lines = [
        f"# held-out split: {raw.queries} find-similar queries, never trained or tuned on",
        f"{'figure':<32}{'raw backbone':>14}{label:>{max(len(label) + 2, 14)}}",
    ]
    for name, attribute in COMPARED:
        lines.append(
            f"{name:<32}{mean(getattr(raw.base, attribute)):>14.3f}"
            f"{mean(getattr(configured.base, attribute)):>{max(len(label) + 2, 14)}.3f}"
        )
    for profile, raw_photos, configured_photos in photo_sets:
        if not raw_photos.photos:
            continue
        lines.append(
            f"# shopper photos ({profile}): {raw_photos.photos} perturbed photos of held-out products (photo search)"
        )
        for name, attribute in (
            ("photo self@1 (twin counts)", "twin_at_1"),
            ("photo self@1, strict", "self_at_1"),
            ("photo self@5 (twin counts)", "twin_at_5"),
            ("photo self@5, strict", "self_at_5"),
            ("photo P@5 articleType", "type_at_5"),
        ):
            lines.append(
                f"{name:<32}{mean(getattr(raw_photos, attribute)):>14.3f}"
                f"{mean(getattr(configured_photos, attribute)):>{max(len(label) + 2, 14)}.3f}"
            )
    return lines
