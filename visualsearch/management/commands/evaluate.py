"""Measure "find similar" quality on the labelled catalogue: precision of the 5 results.

    python manage.py evaluate [--sample 4000] [--seed 0] [--dims 256] [--no-rerank]

Takes N products with a current embedding (all of them when N ≥ their number), asks the
site's own search code (visualsearch.search.similar_to_product over this process's
EmbeddingIndex) for each one's 5 most similar products — the product itself is never
among them — and prints one line per figure:

    P@5 articleType 0.682          share of the 5 results with the query's article type
    P@1 articleType 0.736          the first result has the query's article type
    P@5 subCategory 0.879
    P@5 baseColour 0.302
    P@5 articleType [Apparel] 0.710           per master category of the query
    worst articleType Innerwear Vests: P@5 0.120 (25 queries)
    P@5 articleType same_gender 0.700         with a refinement switched on

A query with fewer than 5 results counts the missing ones as misses. ``--dims 0``
evaluates the full 2048-dim vectors (no PCA), to measure what the projection loses;
with ``--dims D`` the stored PCA-D projection is used, fitted (and stored, as the site
would) when there is none yet and enough embeddings exist.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from shop.models import Product
from visualsearch import search
from visualsearch.conf import vs_settings
from visualsearch.index import get_index, reset_index
from visualsearch.index import projection as projection_mod
from visualsearch.models import EmbeddingStatus, ProductEmbedding

K = 5
REFINEMENT_RUNS = ("same_gender", "same_master", "same_sub")


@dataclass
class Scores:
    """Per-query precision figures of one run."""

    type_at_5: list[float] = field(default_factory=list)
    type_at_1: list[float] = field(default_factory=list)
    sub_at_5: list[float] = field(default_factory=list)
    colour_at_5: list[float] = field(default_factory=list)
    masters: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)


def precision(query: Product, results: Sequence[Product], attribute: str, k: int = K) -> float:
    """Share of the k slots holding a product with the query's value of ``attribute``."""
    wanted = getattr(query, attribute)
    return sum(getattr(p, attribute) == wanted for p in results[:k]) / k


def sample_products(size: int, seed: int) -> list[Product]:
    """``size`` random active, labelled products with a current embedding (all if fewer)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    ids = np.asarray(
        ProductEmbedding.objects.filter(
            status=EmbeddingStatus.DONE, model_version=MODEL_VERSION, vector__isnull=False, product__is_active=True
        )
        .exclude(product__article_type="")
        .order_by("product_id")
        .values_list("product_id", flat=True),
        dtype=np.int64,
    )
    if size < len(ids):
        ids = np.sort(np.random.default_rng(seed).choice(ids, size=size, replace=False))
    products = Product.objects.in_bulk(ids.tolist())
    return [products[pid] for pid in ids.tolist() if pid in products]


def run_queries(products: Sequence[Product], toggles: Mapping[str, str]) -> Scores:
    """Each product's 5 "find similar" results through the site's search code."""
    scores = Scores()
    for product in products:
        try:
            result = search.similar_to_product(product, k=K, toggles=toggles)
        except search.NotAnalysedYet:
            continue
        found = [item.product for item in result.results]
        if product.pk in {p.pk for p in found}:
            raise CommandError(f"find similar returned product {product.pk} itself")
        scores.type_at_5.append(precision(product, found, "article_type"))
        scores.type_at_1.append(precision(product, found, "article_type", k=1))
        scores.sub_at_5.append(precision(product, found, "sub_category"))
        scores.colour_at_5.append(precision(product, found, "base_colour"))
        scores.masters.append(product.master_category)
        scores.types.append(product.article_type)
    return scores


def grouped_means(values: Sequence[float], groups: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Mean and count of the values per group."""
    buckets: dict[str, list[float]] = defaultdict(list)
    for value, group in zip(values, groups, strict=True):
        buckets[group].append(value)
    return {group: (float(np.mean(v)), len(v)) for group, v in buckets.items()}


class Command(BaseCommand):
    help = "Precision of 'find similar' (P@5/P@1 by article type, sub category, colour) on a sample."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=4000, help="Products to query (all when larger).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random sample.")
        parser.add_argument(
            "--dims",
            type=int,
            default=None,
            help="PCA dimensions of the index (0: full 2048-dim vectors). Default: VISUALSEARCH_INDEX_DIMS.",
        )
        parser.add_argument(
            "--no-rerank", action="store_true", help="Rank by the projected vectors alone (no exact re-rank)."
        )
        parser.add_argument("--worst", type=int, default=10, help="How many worst article types to list.")
        parser.add_argument(
            "--min-queries", type=int, default=5, help="Article types with fewer queries are left out of 'worst'."
        )

    def handle(self, *args: object, **options: object) -> None:
        if int(options["sample"]) < 1:
            raise CommandError("--sample must be at least 1.")
        dims = int(vs_settings.INDEX_DIMS if options["dims"] is None else options["dims"])
        overrides: dict[str, object] = {"VISUALSEARCH_INDEX_DIMS": dims, "VISUALSEARCH_INDEX_REFRESH_SECONDS": 3600.0}
        if options["no_rerank"]:
            overrides["VISUALSEARCH_RERANK_CANDIDATES"] = 0
        with override_settings(**overrides):
            reset_index()  # a fresh index in this process, built with these settings
            try:
                self.evaluate(options, dims)
            finally:
                reset_index()

    def evaluate(self, options: Mapping[str, object], dims: int) -> None:
        self.describe_projection(dims)
        index = get_index()
        started = time.perf_counter()
        size = len(index)
        if size <= K:
            raise CommandError(f"Only {size} products are analysed: embed more before evaluating.")
        rerank = index.projected and not options["no_rerank"]
        space = f"PCA-{index.dims}" + (" + exact 2048-dim re-rank" if rerank else "") if index.projected else "2048"
        self.info(f"index: {size} vectors, {space} (loaded in {time.perf_counter() - started:.1f} s)")
        products = sample_products(int(options["sample"]), int(options["seed"]))
        self.info(f"queries: {len(products)} products (seed {options['seed']}), k={K}")
        started = time.perf_counter()
        base = run_queries(products, {})
        self.report_base(base, int(options["worst"]), int(options["min_queries"]))
        for toggle in REFINEMENT_RUNS:
            refined = run_queries(products, {toggle: "1"})
            self.figure(f"P@5 articleType {toggle}", refined.type_at_5)
        queries = len(products) * (1 + len(REFINEMENT_RUNS))
        elapsed = time.perf_counter() - started
        self.info(f"{queries} searches in {elapsed:.1f} s ({1000 * elapsed / queries:.2f} ms each)")

    def describe_projection(self, dims: int) -> None:
        if dims <= 0:
            self.info("projection: none (--dims 0): full 2048-dim vectors")
            return
        row = projection_mod.projection_stored()
        if row is None:
            self.info(f"projection: no PCA-{dims} stored yet, fitting one (stored for the site too) ...")
            row = projection_mod.projection_fit()
        if row is None:
            self.info("projection: too few embeddings to fit one: full 2048-dim vectors")
        else:
            self.info(
                f"projection: PCA-{row.dims} fitted on {row.fitted_on} embeddings "
                f"({100 * row.explained_variance:.1f}% of the variance)"
            )

    def report_base(self, scores: Scores, worst: int, min_queries: int) -> None:
        self.figure("P@5 articleType", scores.type_at_5)
        self.figure("P@1 articleType", scores.type_at_1)
        self.figure("P@5 subCategory", scores.sub_at_5)
        self.figure("P@5 baseColour", scores.colour_at_5)
        for master, (mean, _count) in sorted(grouped_means(scores.type_at_5, scores.masters).items()):
            self.stdout.write(f"P@5 articleType [{master}] {mean:.3f}")
        by_type = grouped_means(scores.type_at_5, scores.types)
        eligible = [(mean, count, name) for name, (mean, count) in by_type.items() if count >= min_queries]
        self.info(f"{worst} worst article types (of {len(eligible)} with at least {min_queries} queries):")
        for mean, count, name in sorted(eligible)[:worst]:
            self.stdout.write(f"worst articleType {name}: P@5 {mean:.3f} ({count} queries)")

    def figure(self, label: str, values: Sequence[float]) -> None:
        self.stdout.write(f"{label} {float(np.mean(values)) if values else 0.0:.3f}")

    def info(self, text: str) -> None:
        self.stdout.write(f"# {text}")
