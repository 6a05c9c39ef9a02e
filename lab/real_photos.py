"""``evaluate``'s "real-photo" profile: held-out products lying small in generated scenes,
searched through photo search's own code with the item localiser, the default box, the whole
photo and a perfect box.

The scenes (``visualsearch.ml.scenes``, EVALUATION backgrounds and seed: never the training's)
put each held-out product at 15–40 % of the frame with one distractor (one-item photos), or
two held-out products apart at 10–25 % each (two-item photos), turned, under uneven light,
blurred and JPEG-compressed. Each photo is searched as the site does
(``visualsearch.query.locating``: ``photo_items`` with the active localiser; its default-box
path without one; the product's own box as a drawn box), ranked by ``rank_photo`` over the
catalogue's stored vectors. Figures count a same-picture twin of the product as the product
(``twin_*``) with the strict figures beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from lab.relevance import Catalogue, K, held_out_rows
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.ml.embedder import embed_batch, embed_with_features
from visualsearch.ml.preprocessing import to_model_input
from visualsearch.ml.scenes import EVALUATION, EVALUATION_SEED, Scene, iou, make_scene, scene_rng
from visualsearch.ml.shopper_photos import photo_order
from visualsearch.query.locating import located_items
from visualsearch.query.photo import decode_photo, decoded_upload, query_colour, region_inputs, studio_backdrop
from visualsearch.query.ranking import colours_from, rank_photo
from visualsearch.query.tokens import StoredItem
from visualsearch.selectors import localiser_active_load
from visualsearch.services.head_figures import Twins

# The ways a photo is searched, in the order the report prints them.
WAYS = ("whole photo", "default box", "localiser, first box", "localiser, any item row", "perfect box")


@dataclass
class WayScores:
    self_at_1: list[float] = field(default_factory=list)
    self_at_5: list[float] = field(default_factory=list)
    twin_at_1: list[float] = field(default_factory=list)
    twin_at_5: list[float] = field(default_factory=list)

    def add(self, found: Sequence[int], row: int, same: set[int]) -> None:
        self.self_at_1.append(float(list(found[:1]) == [row]))
        self.self_at_5.append(float(row in found[:K]))
        self.twin_at_1.append(float(bool(found) and found[0] in same))
        self.twin_at_5.append(float(bool(same.intersection(found[:K]))))


@dataclass
class RealPhotoReport:
    one_item: dict[str, WayScores] = field(default_factory=lambda: {way: WayScores() for way in WAYS})
    first_box_iou50: list[float] = field(default_factory=list)
    # Two-item photos: per item, found (twins counted) in some row's top 5; and both found.
    two_item_found: list[float] = field(default_factory=list)
    two_item_both: list[float] = field(default_factory=list)
    two_item_rows: list[float] = field(default_factory=list)  # how many rows the page showed
    two_item_perfect: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def real_photo_scenes(catalogue: Catalogue, one_item: int, two_item: int) -> list[tuple[list[int], Scene]]:
    """The profile's fixed scenes: (catalogue rows of their products, scene)."""
    held = held_out_rows(catalogue)
    ids = catalogue.ids
    order = photo_order(ids[held].tolist(), salt="real-photo")
    row_of = {int(pid): int(row) for row, pid in enumerate(ids)}
    chosen = [row_of[pid] for pid in order]
    from visualsearch.selectors import products_by_ids

    needed = chosen[: one_item + 2 * two_item]
    products = products_by_ids([int(ids[r]) for r in needed])

    def image(row: int) -> tuple[int, Image.Image] | None:
        """The product's photo, or None when its file is missing or unreadable (skipped, as the
        training photos skip a bad file: never fatal)."""
        product = products.get(int(ids[row]))
        if product is None:
            return None
        try:
            with product.image.open("rb") as handle, Image.open(handle) as opened:
                return int(ids[row]), opened.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    scenes: list[tuple[list[int], Scene]] = []
    for number, row in enumerate(needed[:one_item]):
        rng = scene_rng(EVALUATION_SEED, number)
        photo = image(row)
        if photo is not None:
            scenes.append(([row], make_scene([photo], rng, EVALUATION, distractors=(1, 1))))
    pairs = needed[one_item:]
    for number in range(min(two_item, len(pairs) // 2)):
        rows = pairs[2 * number : 2 * number + 2]
        rng = scene_rng(EVALUATION_SEED + 1, number)
        photos = [image(r) for r in rows]
        if all(p is not None for p in photos):
            scenes.append((rows, make_scene([p for p in photos if p is not None], rng, EVALUATION, distractors=(0, 1))))
    return scenes


def evaluate_real_photos(
    catalogue: Catalogue,
    index: EmbeddingIndex,
    twins: Twins,
    *,
    one_item: int = 150,
    two_item: int = 75,
    progress: Callable[[int, int], None] | None = None,
) -> RealPhotoReport:
    """Search the real-photo profile's scenes every way (``WAYS``) and score them."""
    search = _searcher(catalogue, index)
    group = twins.group
    loaded = localiser_active_load()
    localiser = None if loaded is None else loaded[1]
    report = RealPhotoReport()
    started = time.perf_counter()
    scenes = real_photo_scenes(catalogue, one_item, two_item)
    for number, (rows, scene) in enumerate(scenes):
        data = scene.jpeg(quality=92)
        # Photo search's own steps (visualsearch.query.locating), each forward pass shared by
        # every way of searching: the whole photo with its feature map, then one batch of the
        # default box, the detected boxes and the perfect boxes.
        rgb = decoded_upload(data)
        whole = to_model_input(rgb)[np.newaxis]
        whole_vector, maps = embed_with_features(whole)
        detections = localiser.detect(maps[0]) if localiser is not None else []  # type: ignore[attr-defined]
        default = decode_photo(data)
        truths = [item.box for item in scene.items]
        crops = region_inputs(data, rgb, [d.box for d in detections] + truths)
        batch = np.concatenate([default.pixels[np.newaxis], crops]) if default.whole is not None else crops
        vectors = embed_batch(batch)
        if default.whole is not None:
            default_vector, vectors = vectors[:1], vectors[1:]
            default_item = StoredItem(
                default.box,
                None,
                "default",
                np.vstack([default_vector, whole_vector]),
                query_colour(default.model_inputs()),
            )
        else:
            default_item = StoredItem(default.box, None, "default", whole_vector, query_colour(whole))
        detected_vectors, perfect_vectors = vectors[: len(detections)], vectors[len(detections) :]
        items = located_items(
            detections,
            crops[: len(detections)],
            detected_vectors,
            whole[0],
            whole_vector[0],
            studio=studio_backdrop(rgb),
        )
        rows_found = [search(item) for item in items] if items else [search(default_item)]
        perfect = [
            StoredItem(box, None, "drawn", vector[np.newaxis], query_colour(crop[np.newaxis]))
            for box, vector, crop in zip(truths, perfect_vectors, crops[len(detections) :], strict=True)
        ]
        if len(rows) == 1:
            row = rows[0]
            same = set(np.flatnonzero(group == group[row]).tolist()) | {row}
            whole_item = StoredItem((0.0, 0.0, 1.0, 1.0), None, "drawn", whole_vector, query_colour(whole))
            report.one_item["whole photo"].add(search(whole_item), row, same)
            report.one_item["default box"].add(search(default_item), row, same)
            report.one_item["localiser, first box"].add(rows_found[0], row, same)
            # The page shows a row per item: the product in any row's top 5 (@1: any row's first).
            any_row = report.one_item["localiser, any item row"]
            firsts = [found[0] for found in rows_found if found]
            merged = [r for found in rows_found for r in found[:K]]
            any_row.self_at_1.append(float(row in firsts))
            any_row.twin_at_1.append(float(bool(same.intersection(firsts))))
            any_row.self_at_5.append(float(row in merged))
            any_row.twin_at_5.append(float(bool(same.intersection(merged))))
            report.one_item["perfect box"].add(search(perfect[0]), row, same)
            best = iou(detections[0].box, truths[0]) if detections else 0.0
            report.first_box_iou50.append(float(best >= 0.5))
            if len(report.examples) < 8 and not same.intersection(rows_found[0][:K]):
                report.examples.append(
                    f"one-item photo {number} (product {int(catalogue.ids[row])}, "
                    f"{', '.join(scene.changes)}): {len(detections)} box(es), first IoU {best:.2f}"
                )
        else:
            hits = []
            for row, item in zip(rows, perfect, strict=True):
                same = set(np.flatnonzero(group == group[row]).tolist()) | {row}
                hits.append(float(any(same.intersection(found[:K]) for found in rows_found)))
                report.two_item_perfect.append(float(bool(same.intersection(search(item)[:K]))))
            report.two_item_found += hits
            report.two_item_both.append(float(all(hits)))
            report.two_item_rows.append(float(len(rows_found)))
        if progress is not None:
            progress(number + 1, len(scenes))
    report.seconds = time.perf_counter() - started
    return report


def report_lines(report: RealPhotoReport) -> list[str]:
    """The profile's figures, as ``evaluate`` prints them."""
    photos = len(report.first_box_iou50)
    lines = [
        f"# real-photo profile: {photos} one-item photos (held-out product at 15-40% of the frame, one "
        f"distractor, turns, uneven light, blur, JPEG) and {len(report.two_item_both)} two-item photos, "
        f"{report.seconds:.0f} s",
        f"{'searched':<28}{'self@1 (twins)':>16}{'self@5 (twins)':>16}{'strict @1':>11}{'strict @5':>11}",
    ]
    for way in WAYS:
        scores = report.one_item[way]
        lines.append(
            f"{way:<28}{_mean(scores.twin_at_1):>16.3f}{_mean(scores.twin_at_5):>16.3f}"
            f"{_mean(scores.self_at_1):>11.3f}{_mean(scores.self_at_5):>11.3f}"
        )
    lines += [
        f"localiser first box IoU >= 0.5 with the item: {_mean(report.first_box_iou50):.3f}",
        f"two-item photos: per-item recall (in some row's top 5, twins counted) {_mean(report.two_item_found):.3f}; "
        f"both items found {_mean(report.two_item_both):.3f}; rows shown {_mean(report.two_item_rows):.2f} per photo; "
        f"perfect boxes per-item {_mean(report.two_item_perfect):.3f}",
    ]
    lines += [f"# missed: {example}" for example in report.examples]
    return lines


@dataclass
class ProfileThroughLocaliser:
    """A shopper-photo profile (standard, hard) searched by the site's default box (no
    localiser) and through the item localiser's first row (and any row): does finding the
    item cost the photos that already worked?"""

    profile: str
    default_box: WayScores = field(default_factory=WayScores)
    first_row: WayScores = field(default_factory=WayScores)
    any_row: WayScores = field(default_factory=WayScores)
    boxes: list[float] = field(default_factory=list)


def evaluate_profile_through_localiser(
    catalogue: Catalogue, index: EmbeddingIndex, twins: Twins, profile: str, count: int
) -> ProfileThroughLocaliser:
    """The evaluation's own shopper photos (``shopper_photos.shopper_photo``, PHOTO_SEED, the
    same held-out products as ``evaluate``'s) through both paths."""
    from visualsearch.ml.shopper_photos import PROFILES, shopper_photo
    from visualsearch.selectors import products_by_ids

    row_of = {int(pid): row for row, pid in enumerate(catalogue.ids)}
    held = held_out_rows(catalogue)
    chosen = [row_of[pid] for pid in photo_order(catalogue.ids[held].tolist())[:count]]
    products = products_by_ids([int(catalogue.ids[r]) for r in chosen])
    search = _searcher(catalogue, index)
    loaded = localiser_active_load()
    localiser = None if loaded is None else loaded[1]
    out = ProfileThroughLocaliser(profile)
    for row in chosen:
        product = products.get(int(catalogue.ids[row]))
        if product is None:
            continue
        try:
            with product.image.open("rb") as handle:
                data = shopper_photo(product.pk, handle.read(), profile=PROFILES[profile]).data
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # a missing or unreadable photo is skipped, never fatal
        rgb = decoded_upload(data)
        whole = to_model_input(rgb)[np.newaxis]
        whole_vector, maps = embed_with_features(whole)
        detections = localiser.detect(maps[0]) if localiser is not None else []  # type: ignore[attr-defined]
        default = decode_photo(data)
        crops = region_inputs(data, rgb, [d.box for d in detections])
        batch = np.concatenate([default.pixels[np.newaxis], crops]) if default.whole is not None else crops
        vectors = embed_batch(batch) if len(batch) else np.zeros((0, 2048), np.float32)
        if default.whole is not None:
            default_item = StoredItem(
                default.box,
                None,
                "default",
                np.vstack([vectors[:1], whole_vector]),
                query_colour(default.model_inputs()),
            )
            vectors = vectors[1:]
        else:
            default_item = StoredItem(default.box, None, "default", whole_vector, query_colour(whole))
        items = located_items(detections, crops, vectors, whole[0], whole_vector[0], studio=studio_backdrop(rgb))
        rows_found = [search(item) for item in items] if items else [search(default_item)]
        same = set(np.flatnonzero(twins.group == twins.group[row]).tolist()) | {row}
        out.default_box.add(search(default_item), row, same)
        out.first_row.add(rows_found[0], row, same)
        merged = [r for found in rows_found for r in found[:K]]
        firsts = [found[0] for found in rows_found if found]
        out.any_row.self_at_1.append(float(row in firsts))
        out.any_row.twin_at_1.append(float(bool(same.intersection(firsts))))
        out.any_row.self_at_5.append(float(row in merged))
        out.any_row.twin_at_5.append(float(bool(same.intersection(merged))))
        out.boxes.append(float(len(detections)))
    return out


def _searcher(catalogue: Catalogue, index: EmbeddingIndex) -> Callable[[StoredItem], list[int]]:
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

    def search(item: StoredItem) -> list[int]:
        hits = rank_photo(index, item.vector, item.colour, K, {}, stored=stored, stored_colours=colour_lookup)
        return [row_of[h.product_id] for h in hits]

    return search


def profile_lines(result: ProfileThroughLocaliser) -> list[str]:
    lines = [
        f"# {result.profile} shopper photos ({len(result.boxes)}) through the item localiser "
        f"({_mean(result.boxes):.2f} boxes per photo)"
    ]
    for label, scores in (
        ("default box (no localiser)", result.default_box),
        ("localiser, first row", result.first_row),
        ("localiser, any row", result.any_row),
    ):
        lines.append(
            f"{label:<28}{_mean(scores.twin_at_1):>16.3f}{_mean(scores.twin_at_5):>16.3f}"
            f"{_mean(scores.self_at_1):>11.3f}{_mean(scores.self_at_5):>11.3f}"
        )
    return lines
