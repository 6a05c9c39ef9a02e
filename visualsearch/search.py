"""Search services behind the pages and the API: find similar, photo search."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import Conflict, InvalidInput, PayloadTooLarge, Unavailable
from core.images import ImageRejected
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index import Hit, NotIndexed, SearchIndex, get_index
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.preprocessing import decode_for_model, to_model_input
from visualsearch.models import ProductEmbedding
from visualsearch.selectors import PHOTO_FILTERS, REFINEMENTS, SimilarProduct, products_for_hits, refinement_on

logger = logging.getLogger(__name__)


class SearchUnavailable(Unavailable):
    """The search cannot be answered right now; the message is for the shopper."""


class NotAnalysedYet(Conflict):
    """The product has no embedding yet."""


class UploadRejected(InvalidInput):
    """An upload we refuse; the message is for the shopper."""


class UploadTooLarge(PayloadTooLarge):
    """An upload refused from its declared size, before its body is read."""


@dataclass
class SimilarResult:
    results: list[SimilarProduct]
    filters: dict[str, str]
    index_size: int
    preview_data_url: str = ""
    # What ranked the results: the backbone, plus the similarity head for find similar.
    model_version: str = ""


def _preview_data_url(rgb: Image.Image, box: tuple[int, int] = (480, 480)) -> str:
    image = rgb.copy()
    image.thumbnail(box)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def clamp_k(raw: str | int | None, default: int = 5) -> int:
    """k from a request: a whole number from 1 to VISUALSEARCH_MAX_K (InvalidInput otherwise)."""
    if raw in (None, ""):
        return min(default, vs_settings.MAX_K)
    try:
        k = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("k must be a whole number.") from None
    if k < 1:
        raise InvalidInput("k must be at least 1.")
    return min(k, vs_settings.MAX_K)


def refinement_filters(product: Product, toggles: Mapping[str, object]) -> dict[str, str]:
    """The product's own values for each refinement the shopper switched on."""
    return {
        field_name: getattr(product, field_name)
        for key, (field_name, _label) in REFINEMENTS.items()
        if refinement_on(toggles.get(key))
    }


def explicit_filters(params: Mapping[str, str]) -> dict[str, str]:
    """Photo-search restrictions chosen from the form or query string."""
    return {field_name: params[key] for key, field_name in PHOTO_FILTERS.items() if params.get(key)}


def _rerank_candidates(index: SearchIndex, k: int) -> int:
    """How many index hits the full vectors re-score: 0 when the index holds full vectors
    already (or re-ranking is switched off with VISUALSEARCH_RERANK_CANDIDATES = 0)."""
    extra = int(vs_settings.RERANK_CANDIDATES)
    return max(k * 4, extra) if index.projected and extra > 0 else 0


def _rescored(hits: list[Hit], query: np.ndarray | None, query_product_id: int | None) -> list[Hit]:
    """The hits with exact scores from the full stored vectors, best first.

    A hit whose vector changed model or vanished since the index last refreshed keeps the
    index's order (the whole list does, so that scores stay comparable).
    """
    from visualsearch.ml.embedder import MODEL_VERSION

    wanted = [h.product_id for h in hits]
    if query_product_id is not None:
        wanted.append(query_product_id)
    rows = (
        ProductEmbedding.objects.filter(product_id__in=wanted, model_version=MODEL_VERSION, vector__isnull=False)
        .values_list("product_id", "vector")
        .order_by()
    )
    vectors = {product_id: vector for product_id, vector in rows if vector is not None}
    if query is None and query_product_id is not None and query_product_id in vectors:
        query = np.frombuffer(bytes(vectors[query_product_id]), dtype="<f4")
    if query is None or any(h.product_id not in vectors for h in hits):
        return hits
    matrix = np.frombuffer(b"".join(bytes(vectors[h.product_id]) for h in hits), dtype="<f4").reshape(len(hits), -1)
    scores = matrix @ np.asarray(query, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")
    return [Hit(hits[i].product_id, float(scores[i])) for i in order]


def _similar_hits(index: SearchIndex, product_id: int, k: int, filters: Mapping[str, str]) -> tuple[list[Hit], str]:
    """Find similar's ranking: the active head + colour when the index has a head (its
    hits are final), else the raw vectors (re-scored exactly when the index is projected).
    Returns the hits and the model version that ranked them: read before and after the
    search, and searched again in the rare case the index switched head in between."""
    for _attempt in range(3):
        version = index.model_version
        head = index.head_version
        candidates = 0 if head else _rerank_candidates(index, k)
        hits = index.similar_to_product(product_id, candidates or k, filters)
        if candidates and hits:
            hits = _rescored(hits, None, product_id)
        if index.model_version == version:
            break
    return hits[:k], version


def similar_to_product(product: Product, *, k: int = 5, toggles: Mapping[str, object] | None = None) -> SimilarResult:
    """The k products that look most like ``product`` (never itself)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    try:
        hits, version = _similar_hits(index, product.pk, k, filters)
    except NotIndexed:
        raise NotAnalysedYet(
            "This product is still being analysed; similar items will appear in a few moments."
        ) from None
    return SimilarResult(products_for_hits(hits), filters, size, model_version=version)


# --- photo search's ranking ------------------------------------------------------------------

# product id → (stored 2048-dim vector, stored colour descriptor or None)
StoredLookup = Callable[[Sequence[int]], dict[int, tuple[np.ndarray, np.ndarray | None]]]


def stored_vectors(product_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
    """The stored vectors and colour descriptors of these products (current model only)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    rows = (
        ProductEmbedding.objects.filter(
            product_id__in=list(product_ids), model_version=MODEL_VERSION, vector__isnull=False
        )
        .values_list("product_id", "vector", "colour")
        .order_by()
    )
    return {
        pid: (np.frombuffer(bytes(vector), dtype="<f4"), colour_mod.from_bytes(colour))
        for pid, vector, colour in rows
        if vector is not None
    }


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
    filters: Mapping[str, str],
    *,
    stored: StoredLookup = stored_vectors,
    colour_weight: float | None = None,
    fill: str | None = None,
) -> list[Hit]:
    """Photo search's ranking.

    ``vectors``: the photo's raw embedding (or several rows: embeddings of variants of the
    photo, each product then scored by its best one). The index's raw-vector candidates are
    re-scored with the full stored vectors plus VISUALSEARCH_PHOTO_COLOUR_WEIGHT × colour
    similarity: a photo of a catalogue product should find that product first (the head is
    not used: it groups products by type and loses the exact item). The places after the
    best match are filled per VISUALSEARCH_PHOTO_FILL ("raw": the next matches; "similar":
    the find-similar neighbours of the best match, by the head when the index has one)."""
    weight = float(vs_settings.PHOTO_COLOUR_WEIGHT if colour_weight is None else colour_weight)
    fill = str(vs_settings.PHOTO_FILL if fill is None else fill)
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
        scores = (matrix @ queries.T).max(axis=1)
        colours = [c for c in (found[h.product_id][1] for h in hits) if c is not None]
        if weight > 0 and colour is not None and len(colours) == len(hits):  # all or none: comparable scores
            scores = scores + weight * (np.stack(colours) @ np.asarray(colour, dtype=np.float32))
        order = np.argsort(-scores, kind="stable")
        hits = [Hit(hits[i].product_id, float(scores[i])) for i in order]
    else:  # a candidate changed model or vanished since the index refreshed: the index's order
        hits.sort(key=lambda h: -h.score)
    if fill == "similar" and k > 1:
        best = hits[0]
        try:
            neighbours = index.similar_to_product(best.product_id, k + 1, filters)
        except NotIndexed:
            neighbours = []
        rest = [h for h in neighbours if h.product_id != best.product_id]
        return [best, *rest][:k]
    return hits[:k]


def query_colour(pixels: np.ndarray) -> np.ndarray:
    """The photo's colour descriptor (numpy, in the web process)."""
    return colour_mod.colour_descriptor(pixels)


def validate_upload_size(size: int | None) -> None:
    limit = vs_settings.MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise UploadRejected(f"The photo is too large ({size / 1e6:.1f} MB); the limit is {limit / 1e6:.0f} MB.")


def query_embedding(pixels: np.ndarray) -> np.ndarray:
    """Embed a prepared photo. With a broker, on the worker's query queue (the web process
    never loads TensorFlow); with none, in-process."""
    if vs_settings.QUERY_IN_PROCESS:
        from visualsearch.ml import embedder

        return embedder.embed_batch(pixels[np.newaxis])[0]
    from visualsearch.tasks import embed_query_image

    timeout = vs_settings.QUERY_TIMEOUT
    async_result = None
    try:
        async_result = embed_query_image.apply_async(
            (base64.b64encode(pixels.tobytes()).decode("ascii"),), expires=timeout
        )
        encoded = async_result.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
    except Exception as exc:
        logger.warning("photo search embedding unavailable: %s", exc)
        raise SearchUnavailable(
            "Photo search is unavailable right now (the image analysis service did not answer). "
            "Please try again in a minute; browsing and “find similar” still work."
        ) from None
    finally:
        if async_result is not None:
            with contextlib.suppress(Exception):  # the result backend may be the thing that is down
                async_result.forget()
    return np.frombuffer(base64.b64decode(encoded), dtype="<f4")


def _decoded_upload(data: bytes) -> Image.Image:
    """The upload as an upright RGB image, or UploadRejected saying why it cannot be used."""
    try:
        return decode_for_model(data, max_decoded_pixels=vs_settings.QUERY_MAX_PIXELS)
    except ImageRejected as exc:
        raise UploadRejected(str(exc)) from None


def similar_to_photo(
    data: bytes, *, k: int = 5, filters: Mapping[str, str] | None = None, preview: bool = True
) -> SimilarResult:
    """The k products that look most like an uploaded photo (with an inline preview of it
    for the page; the API asks for none)."""
    validate_upload_size(len(data))
    rgb = _decoded_upload(data)
    index = get_index()
    size = len(index)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    filters = dict(filters or {})
    known = index.filter_values()
    if any(value not in known.get(name, ()) for name, value in filters.items()):
        # No product has that value: nothing can match, so the photo is not even embedded.
        return SimilarResult([], filters, size, _preview_data_url(rgb) if preview else "")
    pixels = to_model_input(rgb)
    vector = query_embedding(pixels)
    hits = rank_photo(index, vector, query_colour(pixels), k, filters)
    return SimilarResult(
        products_for_hits(hits), filters, size, _preview_data_url(rgb) if preview else "", index.model_version
    )
