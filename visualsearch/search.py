"""Search services behind the pages and the API: find similar, photo search."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import Conflict, InvalidInput, PayloadTooLarge, Unavailable
from core.images import ImageRejected
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index import Hit, NotIndexed, SearchIndex, get_index
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


def _ranked_products(
    hits: list[Hit], k: int, *, rerank: bool, query: np.ndarray | None = None, query_product_id: int | None = None
) -> list[SimilarProduct]:
    """The products behind the hits, best first.

    With ``rerank`` the hits are candidates from a projected index: their full stored
    vectors (one query) give the exact 2048-dim scores and order. The query is a raw vector
    or a product, whose stored vector is read in the same query.
    """
    if rerank and hits:
        hits = _rescored(hits, query, query_product_id)
    return products_for_hits(hits[:k])


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


def similar_to_product(product: Product, *, k: int = 5, toggles: Mapping[str, object] | None = None) -> SimilarResult:
    """The k products that look most like ``product`` (never itself)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    candidates = _rerank_candidates(index, k)
    try:
        hits = index.similar_to_product(product.pk, candidates or k, filters)
    except NotIndexed:
        raise NotAnalysedYet(
            "This product is still being analysed; similar items will appear in a few moments."
        ) from None
    results = _ranked_products(hits, k, rerank=bool(candidates), query_product_id=product.pk)
    return SimilarResult(results, filters, size)


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
    vector = query_embedding(to_model_input(rgb))
    candidates = _rerank_candidates(index, k)
    hits = index.similar_to_vector(vector, candidates or k, filters)
    results = _ranked_products(hits, k, rerank=bool(candidates), query=vector)
    return SimilarResult(results, filters, size, _preview_data_url(rgb) if preview else "")
