"""The rankings: find similar's (the index's hits, re-scored with the full stored vectors when
the index is projected) and photo search's (candidates re-scored in photo search's space,
plus colour), and whether a photo's best match is close enough to call a match.

The stored vectors come from ``visualsearch.selectors.stored_vectors_load`` (or a lookup
handed in, as the evaluation does with its own arrays); nothing here reads the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.index import Hit, SearchIndex
from visualsearch.ml.colour import COLOUR_DIM
from visualsearch.selectors import stored_vectors_load

# product id → (stored 2048-dim vector, stored colour descriptor or None)
StoredLookup = Callable[[Sequence[int]], dict[int, tuple[np.ndarray, np.ndarray | None]]]


def rerank_candidates(index: SearchIndex, k: int) -> int:
    """How many index hits the full vectors re-score: 0 when the index holds full vectors
    already (or re-ranking is switched off with VISUALSEARCH_RERANK_CANDIDATES = 0)."""
    extra = int(vs_settings.RERANK_CANDIDATES)
    return max(k * 4, extra) if index.projected and extra > 0 else 0


def rescored(
    hits: list[Hit],
    query: np.ndarray | None,
    query_product_id: int | None,
    *,
    stored: StoredLookup = stored_vectors_load,
) -> list[Hit]:
    """The hits with exact scores from the full stored vectors, best first (the query: a
    vector, else the stored vector of ``query_product_id``).

    A hit whose vector changed model or vanished since the index last refreshed keeps the
    index's order (the whole list does, so that scores stay comparable).
    """
    wanted = [h.product_id for h in hits]
    if query_product_id is not None:
        wanted.append(query_product_id)
    found = stored(wanted)
    if query is None and query_product_id is not None and query_product_id in found:
        query = found[query_product_id][0]
    if query is None or any(h.product_id not in found for h in hits):
        return hits
    matrix = np.stack([found[h.product_id][0] for h in hits])
    scores = matrix @ np.asarray(query, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")
    return [Hit(hits[i].product_id, float(scores[i])) for i in order]


def similar_hits(index: SearchIndex, product_id: int, k: int, filters: Mapping[str, object]) -> tuple[list[Hit], str]:
    """Find similar's ranking: the active head + colour when the index has a head (its
    hits are final), else the raw vectors (re-scored exactly when the index is projected).
    Returns the hits and the model version that ranked them: read before and after the
    search, and searched again in the rare case the index switched head in between.
    NotIndexed when the product is not in the index."""
    for _attempt in range(3):
        version = index.model_version
        head = index.head_version
        candidates = 0 if head else rerank_candidates(index, k)
        hits = index.similar_to_product(product_id, candidates or k, filters)
        if candidates and hits:
            hits = rescored(hits, None, product_id)
        if index.model_version == version:
            break
    return hits[:k], version


def photo_candidates(k: int) -> int:
    """How many raw-vector hits photo search re-scores exactly (with colour), at least 4k:
    VISUALSEARCH_PHOTO_CANDIDATES, more than find similar's re-rank because the photographed
    product must not be lost by the PCA stage."""
    return max(k * 4, int(vs_settings.PHOTO_CANDIDATES))


def rank_photo(
    index: SearchIndex,
    vectors: np.ndarray,
    colour: np.ndarray | None,
    k: int,
    filters: Mapping[str, object],
    *,
    stored: StoredLookup = stored_vectors_load,
    colour_weight: float | None = None,
) -> list[Hit]:
    """Photo search's ranking: the k best matches, best first.

    ``vectors``: the photo's raw embedding (or several rows: embeddings of variants of the
    photo, each product then scored by its best one); ``colour``: its colour descriptor,
    one for all the rows or one row per variant. The index's candidates (by photo
    search's learned space when the active head carries one, else by the raw vectors) are
    re-scored with the full stored vectors, in that space, plus a colour weight (the learned
    space's own, chosen on validation photos; else VISUALSEARCH_PHOTO_COLOUR_WEIGHT) ×
    colour similarity: a photo of a catalogue product should find that product first (the
    find-similar head is not used: it groups products by type and loses the exact item)."""
    projection = index.photo_projection
    if colour_weight is None:
        colour_weight = projection.colour_weight if projection is not None else vs_settings.PHOTO_COLOUR_WEIGHT
    weight = float(colour_weight)
    queries = np.asarray(vectors, dtype=np.float32).reshape(-1, np.asarray(vectors).shape[-1])
    hits: list[Hit] = []
    seen: set[int] = set()
    for query in queries:
        for hit in index.similar_to_vector(query, photo_candidates(k), filters):
            if hit.product_id not in seen:
                seen.add(hit.product_id)
                hits.append(hit)
    if not hits:
        return []
    found = stored([h.product_id for h in hits])
    if all(h.product_id in found for h in hits):
        matrix = np.stack([found[h.product_id][0] for h in hits])
        if projection is not None:
            matrix, queries = projection.apply(matrix), projection.apply(queries)
        scores = matrix @ queries.T  # (candidates, variants)
        colours = [c for c in (found[h.product_id][1] for h in hits) if c is not None]
        if weight > 0 and colour is not None and len(colours) == len(hits):  # all or none: comparable scores
            scores = scores + weight * (np.stack(colours) @ _variant_colours(colour, len(queries)).T)
        scores = scores.max(axis=1)
        order = np.argsort(-scores, kind="stable")
        hits = [Hit(hits[i].product_id, float(scores[i])) for i in order]
    else:  # a candidate changed model or vanished since the index refreshed: the index's order
        hits.sort(key=lambda h: -h.score)
    return hits[:k]


def raw_photo_score(
    vector: np.ndarray,
    colour: np.ndarray | None,
    product_id: int,
    *,
    stored: StoredLookup = stored_vectors_load,
) -> float | None:
    """The score "nothing close" is calibrated on (``photo_quality``): the raw cosine of the
    photo and a product plus VISUALSEARCH_PHOTO_COLOUR_WEIGHT × colour similarity, whatever
    space ranked the results. None when the product's vector is gone."""
    found = stored([product_id]).get(product_id)
    if found is None:
        return None
    product_vector, product_colour = found
    query = np.asarray(vector, dtype=np.float32).reshape(-1, len(product_vector))
    scores = np.asarray(query @ np.asarray(product_vector, np.float32), np.float64)
    if colour is not None and product_colour is not None:
        scores += float(vs_settings.PHOTO_COLOUR_WEIGHT) * (
            _variant_colours(colour, len(query)) @ np.asarray(product_colour, np.float32)
        )
    return float(scores.max())


def is_close_match(hits: Sequence[Hit], raw_score: float | None = None) -> bool:
    """Whether the best match scores at least VISUALSEARCH_PHOTO_CLOSE_THRESHOLD (calibrated
    by ``python manage.py photo_quality`` on the raw cosine plus the colour term:
    ``raw_score``, from ``raw_photo_score``; without it the best hit's own score, which is
    that score when photo search ranks by the raw vectors)."""
    if not hits:
        return False
    score = hits[0].score if raw_score is None else raw_score
    return score >= float(vs_settings.PHOTO_CLOSE_THRESHOLD)


def is_exact_match(raw_score: float | None) -> bool:
    """Whether a best match's raw score (``raw_photo_score``) makes it the photographed product
    itself: at least VISUALSEARCH_PHOTO_EXACT_THRESHOLD (``exact_match_threshold``), and never
    below the "nothing close" threshold."""
    threshold = max(float(vs_settings.PHOTO_EXACT_THRESHOLD), float(vs_settings.PHOTO_CLOSE_THRESHOLD))
    return raw_score is not None and raw_score >= threshold


def _variant_colours(colour: np.ndarray, variants: int) -> np.ndarray:
    """The query's colour descriptor per variant, (V, COLOUR_DIM): one per variant, or one for all."""
    rows = np.asarray(colour, dtype=np.float32).reshape(-1, COLOUR_DIM)
    return rows if len(rows) == variants else np.broadcast_to(rows[:1], (variants, rows.shape[1]))
