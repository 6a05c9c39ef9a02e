"""The rankings: find similar's (the index's hits, re-scored with the full stored vectors when
the index is projected) and photo search's (candidates re-scored in photo search's space,
plus colour), and whether a photo's best match is close enough to call a match.

The stored vectors come from ``visualsearch.selectors.stored_vectors_load`` (or a lookup
handed in, as the evaluation does with its own arrays); nothing here reads the database.
When the index's own rows are photo search's learned space (an exact index, a head with a
photo space), photo search takes its candidates' rows from the index and only their colour
descriptors from ``stored_colours_load``: the same scores without reading 2,048 floats per
candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from visualsearch.conf import vs_settings
from visualsearch.index import Hit, ImageHit, ImageSearchIndex, SearchIndex
from visualsearch.ml.colour import COLOUR_DIM
from visualsearch.ml.photo_projection import PhotoProjection
from visualsearch.selectors import (
    product_photo_vectors_load,
    stored_colours_load,
    stored_image_vectors_load,
    stored_vectors_load,
)

# product id → (stored 2048-dim vector, stored colour descriptor or None)
StoredLookup = Callable[[Sequence[int]], dict[int, tuple[np.ndarray, np.ndarray | None]]]
# product id → stored colour descriptor or None (products with a stored vector only)
ColourLookup = Callable[[Sequence[int]], dict[int, np.ndarray | None]]


def colours_from(stored: StoredLookup) -> ColourLookup:
    """A colour lookup out of a vector lookup (the evaluation's arrays standing in for both)."""
    return lambda product_ids: {pid: colour for pid, (_vector, colour) in stored(product_ids).items()}


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
    stored_images: StoredLookup = stored_image_vectors_load,
    stored_colours: ColourLookup = stored_colours_load,
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
    find-similar head is not used: it groups products by type and loses the exact item).
    When the index holds the products' more images (``ImageSearchIndex``), their candidates
    are scored the same way and every product scores by its best photo, once
    (``best_per_product``). ``stored_colours``: the colour lookup used when the index gives
    its candidates' learned-space rows itself (``in_memory_scores``)."""
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
    image_hits = image_candidates(index, queries, photo_candidates(k), filters)
    if not hits and not image_hits:
        return []
    if projection is not None and not image_hits:
        ids = [h.product_id for h in hits]
        scores = in_memory_scores(index, ids, queries, colour, projection, weight, stored_colours)
        if scores is not None:
            return best_per_product([Hit(h.product_id, float(s)) for h, s in zip(hits, scores, strict=True)])[:k]
    found = stored([h.product_id for h in hits])
    found_images = stored_images([h.image_id for h in image_hits]) if image_hits else {}
    if all(h.product_id in found for h in hits) and all(h.image_id in found_images for h in image_hits):
        rows = [found[h.product_id] for h in hits] + [found_images[h.image_id] for h in image_hits]
        scores = _photo_scores(rows, queries, colour, projection, weight)
        owners = [h.product_id for h in hits] + [h.product_id for h in image_hits]
        hits = [Hit(pid, float(s)) for pid, s in zip(owners, scores, strict=True)]
    else:  # a candidate changed model or vanished since the index refreshed: the index's order
        hits = [*hits, *(Hit(h.product_id, h.score) for h in image_hits)]
    return best_per_product(hits)[:k]


def in_memory_scores(
    index: SearchIndex,
    product_ids: Sequence[int],
    queries: np.ndarray,
    colour: np.ndarray | None,
    projection: PhotoProjection,
    weight: float,
    stored_colours: ColourLookup,
) -> np.ndarray | None:
    """``_photo_scores`` of these candidates from the index's own learned-space rows
    (``photo_rows``: the stored vectors through the same projection) and their stored colour
    descriptors; None when the index does not hold such rows for all of them (a FAISS
    artifact's rows are approximate) or a candidate's stored vector has gone since the index
    refreshed: then the stored vectors re-score, as before."""
    photo_rows = getattr(index, "photo_rows", None)
    rows = photo_rows(product_ids) if photo_rows is not None else None
    if rows is None:
        return None
    colours = stored_colours(product_ids) if weight > 0 and colour is not None else dict.fromkeys(product_ids)
    if any(pid not in colours for pid in product_ids):
        return None
    return _scores_in_space(rows, [colours[pid] for pid in product_ids], projection.apply(queries), colour, weight)


def image_candidates(index: SearchIndex, queries: np.ndarray, k: int, filters: Mapping[str, object]) -> list[ImageHit]:
    """The more images nearest each query row (none when the index holds none), each once."""
    if not isinstance(index, ImageSearchIndex):
        return []
    out: dict[int, ImageHit] = {}
    for query in queries:
        for hit in index.similar_images_to_vector(query, k, filters):
            out.setdefault(hit.image_id, hit)
    return list(out.values())


def best_per_product(hits: Sequence[Hit]) -> list[Hit]:
    """Hits on several photos of a product collapsed to one per product, with its best score;
    best first (ties keep their order)."""
    best: dict[int, Hit] = {}
    for hit in hits:
        current = best.get(hit.product_id)
        if current is None or hit.score > current.score:
            best[hit.product_id] = hit
    return sorted(best.values(), key=lambda h: -h.score)


def _photo_scores(
    rows: Sequence[tuple[np.ndarray, np.ndarray | None]],
    queries: np.ndarray,
    colour: np.ndarray | None,
    projection: PhotoProjection | None,
    weight: float,
) -> np.ndarray:
    """Each stored photo's score against the query: its best variant's similarity in photo
    search's space, plus the colour term (when every candidate has a colour descriptor: all
    or none, so that scores stay comparable)."""
    matrix = np.stack([vector for vector, _colour in rows])
    if projection is not None:
        matrix, queries = projection.apply(matrix), projection.apply(queries)
    return _scores_in_space(matrix, [c for _vector, c in rows], queries, colour, weight)


def _scores_in_space(
    matrix: np.ndarray,
    candidate_colours: Sequence[np.ndarray | None],
    queries: np.ndarray,
    colour: np.ndarray | None,
    weight: float,
) -> np.ndarray:
    """Each candidate's best variant score: its row · each query row (both in photo search's
    space), plus ``weight`` × colour similarity when every candidate has a colour descriptor."""
    scores = matrix @ queries.T  # (candidates, variants)
    colours = [c for c in candidate_colours if c is not None]
    if weight > 0 and colour is not None and len(colours) == len(candidate_colours):
        scores = scores + weight * (np.stack(colours) @ _variant_colours(colour, len(queries)).T)
    return np.asarray(scores.max(axis=1))


def raw_photo_score(
    vector: np.ndarray,
    colour: np.ndarray | None,
    product_id: int,
    *,
    stored_photos: Callable[[int], list[tuple[np.ndarray, np.ndarray | None]]] = product_photo_vectors_load,
) -> float | None:
    """The score "nothing close" is calibrated on (``photo_quality``): the raw cosine of the
    photo and a product plus VISUALSEARCH_PHOTO_COLOUR_WEIGHT × colour similarity, whatever
    space ranked the results, by the product's best photo (its main image or a more image,
    as the ranking). None when the product has no stored vector."""
    photos = stored_photos(product_id)
    if not photos:
        return None
    best = None
    for product_vector, product_colour in photos:
        query = np.asarray(vector, dtype=np.float32).reshape(-1, len(product_vector))
        scores = np.asarray(query @ np.asarray(product_vector, np.float32), np.float64)
        if colour is not None and product_colour is not None:
            scores += float(vs_settings.PHOTO_COLOUR_WEIGHT) * (
                _variant_colours(colour, len(query)) @ np.asarray(product_colour, np.float32)
            )
        score = float(scores.max())
        best = score if best is None else max(best, score)
    return best


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
