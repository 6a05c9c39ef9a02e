"""Selectors for duplicate products: pairs whose pictures are byte-identical (the same image
checksum) or nearly so (stored vectors with a cosine of at least INSIGHTS_DUPLICATE_COSINE),
less the pairs staff marked as different products."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count

from insights.conf import insights_settings
from insights.models import DistinctPair
from shop.models import Product
from shop.selectors import catalogue_version
from visualsearch.models import EmbeddingStatus, ProductEmbedding


@dataclass
class DuplicatePair:
    first: Product
    second: Product
    identical: bool  # the same image bytes
    cosine: float | None = None


def _vector(raw: bytes | memoryview | None) -> np.ndarray:
    return np.frombuffer(bytes(raw or b""), dtype="<f4")


def _distinct_pairs() -> set[tuple[int, int]]:
    return set(DistinctPair.objects.values_list("first_id", "second_id"))


def _identical_pairs() -> list[tuple[int, int]]:
    """Pairs of active products sharing an image checksum: each with the group's first."""
    active = Product.objects.filter(is_active=True).exclude(image_checksum="")
    shared = active.values("image_checksum").annotate(n=Count("pk")).filter(n__gt=1).values("image_checksum")
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, checksum in active.filter(image_checksum__in=shared).order_by("pk").values_list("pk", "image_checksum"):
        groups[checksum].append(pk)
    return [(ids[0], other) for ids in groups.values() for other in ids[1:]]


def _near_pairs(threshold: float, limit: int) -> list[tuple[int, int, float]]:
    """Pairs of active products whose stored vectors' cosine is at least ``threshold`` (the
    ``limit`` newest embedded products, compared in blocks); kept in this process's cache until
    the catalogue changes."""
    key = f"insights:near-pairs:{catalogue_version()}:{threshold}:{limit}"
    pairs = cache.get(key)
    if pairs is None:
        pairs = _near_pairs_compute(threshold, limit)
        cache.set(key, pairs, 3600)
    return pairs


def _near_pairs_compute(threshold: float, limit: int) -> list[tuple[int, int, float]]:
    rows = list(
        ProductEmbedding.objects.filter(status=EmbeddingStatus.DONE, product__is_active=True, vector__isnull=False)
        .order_by("-product_id")
        .values_list("product_id", "vector")[:limit]
    )
    if len(rows) < 2:
        return []
    ids = np.array([pk for pk, _v in rows], dtype=np.int64)
    matrix = np.stack([_vector(v) for _pk, v in rows])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms == 0, 1.0, norms)
    pairs: list[tuple[int, int, float]] = []
    block = 1024
    for start in range(0, len(matrix), block):
        scores = matrix[start : start + block] @ matrix.T
        for i, j in zip(*np.nonzero(scores >= threshold), strict=True):
            a, b = start + int(i), int(j)
            if a < b:
                pairs.append((int(ids[a]), int(ids[b]), float(scores[i, j])))
    return pairs


def duplicate_pairs_list(*, near: bool = True) -> list[DuplicatePair]:
    """Identical pictures first, then nearly identical ones (most similar first)."""
    distinct = _distinct_pairs()
    found: dict[tuple[int, int], tuple[bool, float | None]] = {}
    for a, b in _identical_pairs():
        found[(min(a, b), max(a, b))] = (True, None)
    if near:
        for a, b, score in _near_pairs(insights_settings.DUPLICATE_COSINE, insights_settings.DUPLICATE_MAX_PRODUCTS):
            key = (min(a, b), max(a, b))
            if key not in found:
                found[key] = (False, score)
    keys = [key for key in found if key not in distinct]
    products = Product.objects.prefetch_related("variants").in_bulk({pk for key in keys for pk in key})
    pairs = []
    for key in keys:
        identical, cosine = found[key]
        if key[0] in products and key[1] in products:
            pairs.append(DuplicatePair(products[key[0]], products[key[1]], identical, cosine))
    pairs.sort(key=lambda p: (not p.identical, -(p.cosine or 0.0), p.first.pk, p.second.pk))
    return pairs


def duplicates_of_product(product: Product) -> list[Product]:
    """Other active products with the same picture as ``product`` (checksum, or a stored
    vector at least as close as the threshold), less the pairs marked different."""
    distinct = _distinct_pairs()
    others: dict[int, Product] = {}
    if product.image_checksum:
        for other in Product.objects.filter(is_active=True, image_checksum=product.image_checksum).exclude(
            pk=product.pk
        ):
            others[other.pk] = other
    row = ProductEmbedding.objects.filter(product=product, status=EmbeddingStatus.DONE).first()
    if row is not None and row.vector:
        from visualsearch.index import get_index

        try:
            index = get_index()
            hits = index.similar_to_product(product.pk, 3)
        except Exception:
            hits = []
        vector = _vector(row.vector)
        candidates = ProductEmbedding.objects.filter(product_id__in=[h.product_id for h in hits], vector__isnull=False)
        for cand in candidates.select_related("product"):
            theirs = _vector(cand.vector)
            if len(theirs) != len(vector):
                continue
            cos = float(vector @ theirs / ((np.linalg.norm(vector) * np.linalg.norm(theirs)) or 1.0))
            if cos >= insights_settings.DUPLICATE_COSINE and cand.product.is_active:
                others.setdefault(cand.product_id, cand.product)
    return [p for pk, p in sorted(others.items()) if (min(pk, product.pk), max(pk, product.pk)) not in distinct]
