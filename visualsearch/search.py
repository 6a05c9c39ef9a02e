"""Search services behind the pages and the API: find similar, photo search."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings as django_settings
from django.core.cache import BaseCache, caches
from PIL import Image

from core.errors import ApplicationError, Conflict, InvalidInput, PayloadTooLarge, Unavailable
from core.images import ImageRejected, open_image, to_rgb
from shop.attributes import STOCK_FIELD
from shop.models import Product
from visualsearch.conf import vs_settings
from visualsearch.index import Hit, NotIndexed, SearchIndex, get_index
from visualsearch.metrics import timed_search
from visualsearch.ml import colour as colour_mod
from visualsearch.ml.preprocessing import DECODE_BOX, decode_for_model, to_model_input
from visualsearch.models import ProductEmbedding
from visualsearch.selectors import (
    IN_STOCK_PARAM,
    PHOTO_FILTERS,
    REFINEMENTS,
    SimilarProduct,
    products_for_hits,
    refinement_on,
)

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
    filters: dict[str, Any]
    index_size: int
    preview_data_url: str = ""
    # What ranked the results: the backbone, plus the similarity head for find similar.
    model_version: str = ""
    # Photo search: the token that refines this query without the photo, the searched box,
    # and whether the best match is close enough to call a match (else "nothing close").
    token: str = ""
    box: tuple[float, float, float, float] | None = None
    close_match: bool = True


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


def refinement_filters(product: Product, toggles: Mapping[str, object]) -> dict[str, Any]:
    """The product's own values for each refinement the shopper switched on, and "in stock
    only" (``in_stock``) when it is on."""
    filters: dict[str, Any] = {
        field_name: getattr(product, field_name)
        for key, (field_name, _label) in REFINEMENTS.items()
        if refinement_on(toggles.get(key))
    }
    return filters | _stock_filter(toggles)


def explicit_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Photo-search restrictions chosen from the form or query string."""
    filters = {field_name: params[key] for key, field_name in PHOTO_FILTERS.items() if params.get(key)}
    return filters | _stock_filter(params)


def _stock_filter(params: Mapping[str, object]) -> dict[str, Any]:
    return {STOCK_FIELD: True} if refinement_on(params.get(IN_STOCK_PARAM)) else {}


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


def _similar_hits(index: SearchIndex, product_id: int, k: int, filters: Mapping[str, object]) -> tuple[list[Hit], str]:
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


@timed_search("similar")
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
    filters: Mapping[str, object],
    *,
    stored: StoredLookup = stored_vectors,
    colour_weight: float | None = None,
    fill: str | None = None,
) -> list[Hit]:
    """Photo search's ranking.

    ``vectors``: the photo's raw embedding (or several rows: embeddings of variants of the
    photo, each product then scored by its best one); ``colour``: its colour descriptor,
    one for all the rows or one row per variant. The index's candidates (by photo
    search's learned space when the active head carries one, else by the raw vectors) are
    re-scored with the full stored vectors, in that space, plus a colour weight (the learned
    space's own, chosen on validation photos; else VISUALSEARCH_PHOTO_COLOUR_WEIGHT) ×
    colour similarity: a photo of a catalogue product should find that product first (the
    find-similar head is not used: it groups products by type and loses the exact item).
    The places after the best match are filled per VISUALSEARCH_PHOTO_FILL ("raw": the next
    matches; "similar": the find-similar neighbours of the best match)."""
    projection = index.photo_projection
    if colour_weight is None:
        colour_weight = projection.colour_weight if projection is not None else vs_settings.PHOTO_COLOUR_WEIGHT
    weight = float(colour_weight)
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
    if fill == "similar" and k > 1:
        best = hits[0]
        try:
            neighbours = index.similar_to_product(best.product_id, k + 1, filters)
        except NotIndexed:
            neighbours = []
        rest = [h for h in neighbours if h.product_id != best.product_id]
        return [best, *rest][:k]
    return hits[:k]


def raw_photo_score(
    vector: np.ndarray,
    colour: np.ndarray | None,
    product_id: int,
    *,
    stored: StoredLookup = stored_vectors,
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


def _variant_colours(colour: np.ndarray, variants: int) -> np.ndarray:
    """The query's colour descriptor per variant, (V, 196): one per variant, or one for all."""
    rows = np.asarray(colour, dtype=np.float32).reshape(-1, colour_mod.COLOUR_DIM)
    return rows if len(rows) == variants else np.broadcast_to(rows[:1], (variants, rows.shape[1]))


def query_colour(pixels: np.ndarray) -> np.ndarray:
    """The photo's colour descriptor (numpy, in the web process): (196,) for one model
    input, (V, 196) for several (``DecodedPhoto.model_inputs``)."""
    if pixels.ndim == 4:
        return np.stack([colour_mod.colour_descriptor(p) for p in pixels])
    return colour_mod.colour_descriptor(pixels)


def validate_upload_size(size: int | None) -> None:
    limit = vs_settings.MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise UploadRejected(f"The photo is too large ({size / 1e6:.1f} MB); the limit is {limit / 1e6:.0f} MB.")


def query_embedding(pixels: np.ndarray) -> np.ndarray:
    """Embed a prepared photo: (224, 224, 3) → (2048,), or several inputs at once
    (V, 224, 224, 3) → (V, 2048), one batch. With a broker, on the worker's query queue (the
    web process never loads TensorFlow); with none, in-process."""
    batch = pixels.reshape(-1, *pixels.shape[-3:])
    single = pixels.ndim == 3
    if vs_settings.QUERY_IN_PROCESS:
        from visualsearch.ml import embedder

        vectors = embedder.embed_batch(batch)
        return vectors[0] if single else vectors
    from visualsearch.tasks import embed_query_image

    timeout = vs_settings.QUERY_TIMEOUT
    async_result = None
    try:
        async_result = embed_query_image.apply_async(
            (base64.b64encode(np.ascontiguousarray(batch, np.uint8).tobytes()).decode("ascii"),), expires=timeout
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
    vectors = np.frombuffer(base64.b64decode(encoded), dtype="<f4").reshape(len(batch), -1)
    return vectors[0] if single else vectors


# --- photo search: the searched region ("crop to search") -----------------------------------

# A region of the photo, x0,y0,x1,y1 as fractions (0–1) of its upright width and height.
Box = tuple[float, float, float, float]
FULL_BOX: Box = (0.0, 0.0, 1.0, 1.0)
# A box narrower or shorter than this (fraction of the photo) is refused: a few pixels of a
# phone photo say nothing about a product.
MIN_BOX_SIDE = 0.05
_BOX_FORMAT = "box must be four numbers x0,y0,x1,y1 between 0 and 1 (for example 0.1,0.2,0.8,0.9)."
# Decoding for a small region goes up to this many times the model's decode box.
_MAX_REGION_ZOOM = 4.0


def parse_box(raw: object) -> Box | None:
    """The ``box`` field: "x0,y0,x1,y1" in 0–1 coordinates of the upright photo (x0 < x1,
    y0 < y1, each side at least MIN_BOX_SIDE); None when empty. InvalidInput saying what is
    wrong otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    parts = str(raw).split(",")
    if len(parts) != 4:
        raise InvalidInput(_BOX_FORMAT)
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(_BOX_FORMAT) from None
    values = (x0, y0, x1, y1)
    if not all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise InvalidInput("box coordinates must be between 0 and 1 (fractions of the photo's width and height).")
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        raise InvalidInput(
            f"box must have x0 < x1 and y0 < y1, each side at least {MIN_BOX_SIDE:g} of the photo "
            "(draw a larger box around the item)."
        )
    return values


def format_box(box: Box | None) -> str:
    return "" if box is None else ",".join(f"{v:.4f}".rstrip("0").rstrip(".") or "0" for v in box)


# Uniform borders: a line (row or column) belongs to the border while at least BORDER_SHARE
# of its pixels lie within BORDER_TOLERANCE (per channel, 0–255) of the border colour.
BORDER_TOLERANCE = 24
BORDER_SHARE = 0.98
# The default box keeps this much of the trimmed region's size around it (the catalogue's
# photos show a product with some backdrop around it).
BORDER_MARGIN = 0.08
# Trimming that keeps more than this share of the photo's area is not worth changing it.
TRIM_KEEPS_AT_MOST = 0.85
# Borders this light on every side (each channel) are a studio backdrop: not trimmed.
WHITE_BACKDROP = 235


def default_box(rgb: Image.Image) -> Box:
    """The photo with uniform borders trimmed (a product on a plain table, wall or sheet),
    plus a small margin; the whole photo when there is little to trim. The page's crop
    tool (static/js/photo_search.js) starts from the same box."""
    small = rgb.copy()
    small.thumbnail((128, 128))
    pixels = np.asarray(small, dtype=np.int16)
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return FULL_BOX

    def uniform(line: np.ndarray, colour: np.ndarray) -> bool:
        return bool(np.mean(np.abs(line - colour).max(axis=-1) <= BORDER_TOLERANCE) >= BORDER_SHARE)

    sides = np.stack([np.median(line, axis=0) for line in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1])])
    if sides.min() >= WHITE_BACKDROP:
        # A studio-white backdrop, like the catalogue's own photos (a screenshot of a product
        # page): the whole photo matches the catalogue best (self@1 0.985 whole vs 0.86 trimmed).
        return FULL_BOX
    top, bottom, left, right = 0, height, 0, width
    colour = np.median(pixels[0], axis=0)
    while top < height // 2 and uniform(pixels[top], colour):
        top += 1
    colour = np.median(pixels[-1], axis=0)
    while bottom > top + height // 10 and uniform(pixels[bottom - 1], colour):
        bottom -= 1
    colour = np.median(pixels[:, 0], axis=0)
    while left < width // 2 and uniform(pixels[top:bottom, left], colour):
        left += 1
    colour = np.median(pixels[:, -1], axis=0)
    while right > left + width // 10 and uniform(pixels[top:bottom, right - 1], colour):
        right -= 1
    if (bottom - top) < height * MIN_BOX_SIDE * 2 or (right - left) < width * MIN_BOX_SIDE * 2:
        return FULL_BOX  # nothing but border: a plain photo
    mx, my = (right - left) * BORDER_MARGIN, (bottom - top) * BORDER_MARGIN
    box = (
        max(0.0, (left - mx) / width),
        max(0.0, (top - my) / height),
        min(1.0, (right + mx) / width),
        min(1.0, (bottom + my) / height),
    )
    if (box[2] - box[0]) * (box[3] - box[1]) > TRIM_KEEPS_AT_MOST:
        return FULL_BOX
    return (round(box[0], 4), round(box[1], 4), round(box[2], 4), round(box[3], 4))


def _pixel_box(size: tuple[int, int], box: Box) -> tuple[int, int, int, int]:
    width, height = size
    x0, y0 = int(np.floor(box[0] * width)), int(np.floor(box[1] * height))
    x1, y1 = int(np.ceil(box[2] * width)), int(np.ceil(box[3] * height))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


@dataclass(frozen=True)
class DecodedPhoto:
    """An upload ready to search: the whole upright photo (for its preview), the searched
    region as the model's input, and the box it came from. ``whole``: the whole photo's
    input too, when the region is the default box (borders trimmed, not the shopper's own
    box): photo search then scores each product by the better of the two (see
    ``model_inputs``)."""

    photo: Image.Image
    pixels: np.ndarray
    box: Box
    whole: np.ndarray | None = None

    def model_inputs(self) -> np.ndarray:
        """What the model embeds for this search: (V, 224, 224, 3), the region first, then
        the whole photo when the trim was ours. The trimmed region wins on a product lying
        on a table; the whole photo keeps the framing the catalogue's own images have, and
        wins on a photo of the product itself (held-out validation photos: self@1 0.830 →
        0.870 hard, 0.933 → 0.937 standard)."""
        if self.whole is None:
            return self.pixels[np.newaxis]
        return np.stack([self.pixels, self.whole])


def decode_photo(data: bytes, box: Box | None = None, *, trim: bool = True) -> DecodedPhoto:
    """Decode an upload and cut out the searched region: ``box``, else (``trim``) the photo
    with uniform borders trimmed (``default_box``). A small region is decoded from a larger
    copy of the photo (up to _MAX_REGION_ZOOM times the usual), so it keeps its detail.
    UploadRejected when the bytes cannot be used."""
    rgb = _decoded_upload(data)
    ours = box is None and trim
    if box is None:
        box = default_box(rgb) if trim else FULL_BOX
    if box == FULL_BOX:
        return DecodedPhoto(rgb, to_model_input(rgb), FULL_BOX)
    zoom = min(_MAX_REGION_ZOOM, 1.0 / min(box[2] - box[0], box[3] - box[1]))
    source = rgb
    if zoom > 1.0:
        large = (round(DECODE_BOX[0] * zoom), round(DECODE_BOX[1] * zoom))
        try:
            source = to_rgb(
                open_image(data, draft_size=large, max_decoded_pixels=vs_settings.QUERY_MAX_PIXELS), box=large
            )
        except ImageRejected as exc:
            raise UploadRejected(str(exc)) from None
    region = source.crop(_pixel_box(source.size, box))
    return DecodedPhoto(rgb, to_model_input(region), box, to_model_input(rgb) if ours else None)


# --- photo search: the query kept for refining ----------------------------------------------

# The cache alias that keeps photo-search queries (config/settings.py: Redis in production,
# this process's memory in the embedded default); "default" where a project has none.
QUERY_CACHE = "photo_queries"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class QueryExpired(ApplicationError):
    """A refinement's query token is unknown or expired: the shopper searches again."""

    status = 410


@dataclass(frozen=True)
class StoredQuery:
    """What refining a photo search needs: the region's embedding and colour descriptor, the
    box, and the small preview the page shows. Never the photo itself."""

    vector: np.ndarray
    colour: np.ndarray | None
    box: Box
    preview_data_url: str
    model_version: str


def _query_cache() -> BaseCache:
    return caches[QUERY_CACHE if QUERY_CACHE in django_settings.CACHES else "default"]


def _expired_message() -> str:
    minutes = max(1, round(float(vs_settings.QUERY_TOKEN_SECONDS) / 60))
    return (
        f"This photo search has expired (searches are kept for {minutes} minutes). "
        "Please search again: choose your photo once more."
    )


def store_query(query: StoredQuery) -> str:
    """Keep the query for VISUALSEARCH_QUERY_TOKEN_SECONDS under a new random token, which
    it returns ("" when the cache is unavailable: the results still show, refining then
    asks for the photo again)."""
    token = secrets.token_urlsafe(18)
    value = {
        "vector": np.asarray(query.vector, dtype="<f4").tobytes(),
        "colour": None if query.colour is None else np.asarray(query.colour, dtype="<f4").tobytes(),
        "box": list(query.box),
        "preview": query.preview_data_url,
        "model": query.model_version,
    }
    try:
        _query_cache().set(f"q:{token}", value, timeout=int(vs_settings.QUERY_TOKEN_SECONDS))
    except Exception as exc:  # Redis down or frozen: the search itself still answers
        logger.warning("photo-search query not kept for refining: %s", exc)
        return ""
    return token


def load_query(token: str) -> StoredQuery:
    """The query kept under ``token``: InvalidInput for a malformed token, QueryExpired for
    an unknown or expired one (or one embedded by another model)."""
    from visualsearch.ml.embedder import MODEL_VERSION

    if not _TOKEN.match(token or ""):
        raise InvalidInput("q must be the token a photo search returned.")
    try:
        value = _query_cache().get(f"q:{token}")
    except Exception as exc:
        logger.warning("photo-search query cache unavailable: %s", exc)
        value = None
    if not isinstance(value, dict) or value.get("model") != MODEL_VERSION:
        raise QueryExpired(_expired_message())
    colour = value.get("colour")
    return StoredQuery(
        vector=np.frombuffer(value["vector"], dtype="<f4"),
        colour=None if colour is None else np.frombuffer(colour, dtype="<f4"),
        box=tuple(float(v) for v in value["box"]),  # type: ignore[arg-type]
        preview_data_url=str(value.get("preview", "")),
        model_version=str(value["model"]),
    )


# --- photo search ---------------------------------------------------------------------------


def _decoded_upload(data: bytes) -> Image.Image:
    """The upload as an upright RGB image, or UploadRejected saying why it cannot be used."""
    try:
        return decode_for_model(data, max_decoded_pixels=vs_settings.QUERY_MAX_PIXELS)
    except ImageRejected as exc:
        raise UploadRejected(str(exc)) from None


def is_close_match(hits: Sequence[Hit], raw_score: float | None = None) -> bool:
    """Whether the best match scores at least VISUALSEARCH_PHOTO_CLOSE_THRESHOLD (calibrated
    by ``python manage.py photo_quality`` on the raw cosine plus the colour term:
    ``raw_score``, from ``raw_photo_score``; without it the best hit's own score, which is
    that score when photo search ranks by the raw vectors)."""
    if not hits:
        return False
    score = hits[0].score if raw_score is None else raw_score
    return score >= float(vs_settings.PHOTO_CLOSE_THRESHOLD)


def _photo_kind(data: bytes | None = None, *args: object, token: str = "", **kwargs: object) -> str:
    """Refining a kept query (a token, no photo) is timed apart from a search with a photo."""
    return "photo_refine" if token and data is None else "photo"


@timed_search(_photo_kind)
def similar_to_photo(
    data: bytes | None = None,
    *,
    token: str = "",
    box: Box | None = None,
    k: int = 5,
    filters: Mapping[str, object] | None = None,
    preview: bool = True,
) -> SimilarResult:
    """The k products that look most like an uploaded photo's region (``box``; by default
    the photo with uniform borders trimmed), with an inline preview of the photo for the
    page (the API asks for none). The query's embedding is kept under a token (in the
    result) for VISUALSEARCH_QUERY_TOKEN_SECONDS: ``token`` instead of ``data`` re-ranks
    it (other filters) without the photo and without the model."""
    index = get_index()
    size = len(index)
    stored: StoredQuery | None = None
    photo: DecodedPhoto | None = None
    if data is None:
        stored = load_query(token)
    else:
        validate_upload_size(len(data))
        photo = decode_photo(data, box)
    if size == 0:
        raise SearchUnavailable("Visual search has no analysed products yet. Please try again later.")
    filters = dict(filters or {})
    if stored is None:
        assert photo is not None
        preview_url = _preview_data_url(photo.photo)
        known = index.filter_values()
        if any(value not in known.get(name, ()) for name, value in filters.items()):
            # No product has that value: nothing can match, so the photo is not even embedded.
            return SimilarResult([], filters, size, preview_url if preview else "", box=photo.box)
        from visualsearch.ml.embedder import MODEL_VERSION

        inputs = photo.model_inputs()
        vector = query_embedding(inputs)
        stored = StoredQuery(vector, query_colour(inputs), photo.box, preview_url, MODEL_VERSION)
        token = store_query(stored)
    hits = rank_photo(index, stored.vector, stored.colour, k, filters)
    closeness = None
    if hits and index.photo_projection is not None:
        closeness = raw_photo_score(stored.vector, stored.colour, hits[0].product_id)
    return SimilarResult(
        products_for_hits(hits),
        filters,
        size,
        stored.preview_data_url if preview else "",
        index.model_version,
        token=token,
        box=stored.box,
        close_match=is_close_match(hits, closeness),
    )
