"""Search services behind the pages and the API: find similar, photo search."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from shop.models import Product
from visualsearch.imaging import ImageRejected, bytes_to_model_input, open_image, to_rgb
from visualsearch.index import NotIndexed, get_index
from visualsearch.selectors import PHOTO_FILTERS, REFINEMENTS, SimilarProduct, products_for_hits

logger = logging.getLogger(__name__)


class SearchUnavailable(Exception):
    """The search cannot be answered right now; the message is for the shopper."""


class NotAnalysedYet(Exception):
    """The product has no embedding yet."""


class UploadRejected(ValueError):
    """An upload we refuse; the message is for the shopper."""


@dataclass
class SimilarResult:
    results: list[SimilarProduct]
    filters: dict[str, str]
    index_size: int
    preview_data_url: str = ""


def photo_preview_data_url(data: bytes, box: tuple[int, int] = (480, 480)) -> str:
    """A small upright JPEG of the shopper's photo, inline: nothing of it is stored."""
    image = to_rgb(open_image(data))
    image.thumbnail(box)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def clamp_k(raw: str | int | None, default: int = 5) -> int:
    """k from a request: a whole number from 1 to VISUALSEARCH_MAX_K (ValueError otherwise)."""
    if raw in (None, ""):
        return default
    try:
        k = int(raw)
    except (TypeError, ValueError):
        raise ValueError("k must be a whole number.") from None
    if k < 1:
        raise ValueError("k must be at least 1.")
    return min(k, settings.VISUALSEARCH_MAX_K)


def refinement_filters(product: Product, toggles: Mapping[str, object]) -> dict[str, str]:
    """The product's own values for each refinement the shopper switched on."""
    return {
        field_name: getattr(product, field_name)
        for key, (field_name, _label) in REFINEMENTS.items()
        if toggles.get(key) not in (None, "", "0", "false", "off", False)
    }


def explicit_filters(params: Mapping[str, str]) -> dict[str, str]:
    """Photo-search restrictions chosen from the form or query string."""
    return {field_name: params[key] for key, field_name in PHOTO_FILTERS.items() if params.get(key)}


def similar_to_product(product: Product, *, k: int = 5, toggles: Mapping[str, object] | None = None) -> SimilarResult:
    """The k products that look most like ``product`` (never itself)."""
    index = get_index()
    filters = refinement_filters(product, toggles or {})
    size = len(index)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    try:
        hits = index.similar_to_product(product.pk, k, filters)
    except NotIndexed:
        raise NotAnalysedYet(
            "This product is still being analysed; similar items will appear in a few moments."
        ) from None
    return SimilarResult(products_for_hits(hits), filters, size)


def validate_upload_size(size: int | None) -> None:
    limit = settings.VISUALSEARCH_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise UploadRejected(f"The photo is too large ({size / 1e6:.1f} MB); the limit is {limit / 1e6:.0f} MB.")


def query_pixels(data: bytes) -> np.ndarray:
    """The model input for an uploaded photo, with the catalogue's exact preprocessing."""
    validate_upload_size(len(data))
    try:
        return bytes_to_model_input(data)
    except ImageRejected as exc:
        raise UploadRejected(str(exc)) from None


def query_embedding(pixels: np.ndarray) -> np.ndarray:
    """Embed a prepared photo. With a broker, on the worker's query queue (the web process
    never loads TensorFlow); with none, in-process."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        from visualsearch import embedder

        return embedder.embed_batch(pixels[np.newaxis])[0]
    from visualsearch.tasks import embed_query_image

    timeout = settings.VISUALSEARCH_QUERY_TIMEOUT
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


def similar_to_photo(data: bytes, *, k: int = 5, filters: Mapping[str, str] | None = None) -> SimilarResult:
    pixels = query_pixels(data)
    index = get_index()
    size = len(index)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    vector = query_embedding(pixels)
    hits = index.similar_to_vector(vector, k, dict(filters or {}))
    return SimilarResult(products_for_hits(hits), dict(filters or {}), size, photo_preview_data_url(data))
