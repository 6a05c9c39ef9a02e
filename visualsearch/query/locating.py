"""The items of an uploaded photo: where they are and what each looks like (its embedding).

With an active item localiser (``visualsearch.selectors.localiser_active_load``) and no box
drawn, the whole photo goes through the model once: its embedding and, from the same forward
pass, the feature map the localiser reads. An item found alone that fills most of the photo,
or lies on a studio-white backdrop (``whole_photo_suffices``), is searched by the whole photo:
its box would show nearly the same picture, or the catalogue's own framing, and the search
needs no second forward pass. Otherwise each detected box is cut from the photo and embedded
(one batch): an item found alone is searched by the better of its box and the whole photo (as
the default box was), items found beside others by their box alone. Nothing detected, no
localiser, or an embedder without feature maps: the default box (uniform borders trimmed) and
the whole photo, as before. A box the shopper drew always wins: it is searched alone, nothing
is detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from visualsearch.conf import vs_settings
from visualsearch.ml.localiser import Detection
from visualsearch.ml.preprocessing import to_model_input
from visualsearch.query.embedding import (
    QueryEmbedder,
    query_embedding,
    query_embedding_start,
    query_embedding_with_features,
)
from visualsearch.query.photo import (
    Box,
    decode_photo,
    decoded_upload,
    query_colour,
    region_inputs,
    studio_backdrop,
)
from visualsearch.query.tokens import StoredItem
from visualsearch.selectors import localiser_active_load


@dataclass(frozen=True)
class PhotoItems:
    """The upright photo (for its preview) and its items, most confident first (at least one)."""

    photo: Image.Image
    items: list[StoredItem]
    localiser_version: str = ""


def default_items(data: bytes, box: Box | None, embedder: QueryEmbedder | None) -> PhotoItems:
    """The photo searched as one region, without the localiser: ``box`` (drawn by the shopper)
    alone, else the default box (uniform borders trimmed) and the whole photo."""
    photo = decode_photo(data, box)
    inputs = photo.model_inputs()
    vector = query_embedding_start(inputs, embedder)
    colour = query_colour(inputs)  # while the query worker runs the model
    source = "drawn" if box is not None else "default"
    return PhotoItems(photo.photo, [StoredItem(photo.box, None, source, vector(), colour)])


def photo_items(data: bytes, box: Box | None = None, embedder: QueryEmbedder | None = None) -> PhotoItems:
    """The items to search in an upload (see the module's docstring). UploadRejected when the
    bytes cannot be used; SearchUnavailable when the model does not answer."""
    if box is not None:
        return default_items(data, box, embedder)
    loaded = localiser_active_load()
    if loaded is None:
        return default_items(data, None, embedder)
    version, localiser = loaded
    rgb = decoded_upload(data)
    whole = to_model_input(rgb)[np.newaxis]
    answered = query_embedding_with_features(whole, embedder)
    if answered is None:
        return default_items(data, None, embedder)
    whole_vector, feature_maps = answered
    detections = localiser.detect(feature_maps[0])  # type: ignore[attr-defined]
    if not detections:
        photo = decode_photo(data)
        if photo.whole is None:  # nothing trimmed either: the whole photo, embedded already
            item = StoredItem(photo.box, None, "default", whole_vector, query_colour(whole))
        else:
            region = query_embedding(photo.pixels[np.newaxis], embedder)
            inputs = photo.model_inputs()
            item = StoredItem(photo.box, None, "default", np.vstack([region, whole_vector]), query_colour(inputs))
        return PhotoItems(rgb, [item], version)
    if whole_photo_suffices(detections, studio=studio_backdrop(rgb)):
        return PhotoItems(rgb, [whole_photo_item(detections[0], whole[0], whole_vector[0])], version)
    boxes = [d.box for d in detections]
    crops = region_inputs(data, rgb, boxes)
    vectors = query_embedding(crops, embedder).reshape(len(boxes), -1)
    return PhotoItems(rgb, located_items(detections, crops, vectors, whole[0], whole_vector[0]), version)


def whole_photo_suffices(detections: Sequence[Detection], *, studio: bool = False) -> bool:
    """True when the photo holds one item whose box covers at least
    VISUALSEARCH_LOCALISER_WHOLE_PHOTO_AREA of it, or one item on a studio-white backdrop
    (``studio``: the catalogue's own framing, where the whole photo is what matches): a photo of
    the product itself, searched by the whole photo alone (no second forward pass for its box).
    Both rules lost no validation photo against box + whole photo
    (lab/experiments/localiser_whole_area.py)."""
    threshold = vs_settings.LOCALISER_WHOLE_PHOTO_AREA
    if len(detections) != 1 or threshold > 1:  # above 1: every box is embedded
        return False
    if studio:
        return True
    x0, y0, x1, y1 = detections[0].box
    return (x1 - x0) * (y1 - y0) >= threshold


def whole_photo_item(detection: Detection, whole: np.ndarray, whole_vector: np.ndarray) -> StoredItem:
    """The item ``whole_photo_suffices`` found, searched by the whole photo's input and embedding."""
    return StoredItem(
        detection.box, round(detection.score, 4), "detected", whole_vector[np.newaxis], query_colour(whole[np.newaxis])
    )


def located_items(
    detections: Sequence[Detection],
    crops: np.ndarray,
    vectors: np.ndarray,
    whole: np.ndarray,
    whole_vector: np.ndarray,
    *,
    studio: bool = False,
) -> list[StoredItem]:
    """The detected items as searched: an item found alone by the better of its box and the
    whole photo (the whole photo keeps the framing of a photo of the product itself), items
    found beside others by their box alone. ``crops``/``vectors``: each box's model input and
    embedding; ``whole``/``whole_vector``: the whole photo's. An item ``whole_photo_suffices``
    for (``studio``: the photo lies on a studio-white backdrop) is searched by the whole photo
    (its crop, if given, is not used)."""
    if whole_photo_suffices(detections, studio=studio):
        return [whole_photo_item(detections[0], whole, whole_vector)]
    items: list[StoredItem] = []
    alone = len(detections) == 1
    for detection, crop, vector in zip(detections, crops, vectors, strict=True):
        if alone:
            rows, inputs = np.vstack([vector, whole_vector]), np.stack([crop, whole])
        else:
            rows, inputs = vector[np.newaxis], crop[np.newaxis]
        items.append(StoredItem(detection.box, round(detection.score, 4), "detected", rows, query_colour(inputs)))
    return items
