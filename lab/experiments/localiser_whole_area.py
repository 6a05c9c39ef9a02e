# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Choosing VISUALSEARCH_LOCALISER_WHOLE_PHOTO_AREA on validation photos (never the evaluation
split): for photos in which the item localiser finds one item, is searching by the whole photo
alone (no second forward pass) as good as the better of its box and the whole photo, and from
which box area on?

Validation products (``split_of`` "val"), each photographed four ways: its catalogue picture
uploaded as it is, a standard and a hard shopper photo (``shopper_photos``, another seed than
``evaluate``'s), and a real-photo scene (the TRAINING backgrounds, another seed than training's
and evaluation's). Each photo goes through photo search's own steps with the active localiser
and head; for one-item detections both ways are ranked over the whole catalogue. Prints, per
kind and overall, the share of photos each threshold would answer in one forward pass and
self@1 / self@5 (twins counted) of both ways on them.

    python lab/experiments/localiser_whole_area.py [photos per kind, default 200]
"""

import io
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
import numpy as np
from PIL import Image
from tqdm import tqdm

from lab import relevance
from lab.real_photos import _searcher
from visualsearch.conf import vs_settings
from visualsearch.index.loading import active_head_load
from visualsearch.ml.embedder import embed_batch, embed_with_features
from visualsearch.ml.head import split_of
from visualsearch.ml.preprocessing import to_model_input
from visualsearch.ml.scenes import TRAINING, make_scene, scene_rng
from visualsearch.ml.shopper_photos import PROFILES, photo_order, shopper_photo
from visualsearch.query.photo import decoded_upload, query_colour, region_inputs, studio_backdrop
from visualsearch.query.tokens import StoredItem
from visualsearch.selectors import localiser_active_load, products_by_ids

K = relevance.K
SEED = 5_150  # neither evaluate's PHOTO_SEED / EVALUATION_SEED nor training's
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
KINDS = ("catalogue", "standard", "hard", "scene")


def photo_bytes(kind: str, pid: int, data: bytes, number: int) -> bytes:
    if kind == "catalogue":
        return data
    if kind in PROFILES:
        return shopper_photo(pid, data, seed=SEED, profile=PROFILES[kind]).data
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    return make_scene([(pid, image)], scene_rng(SEED, number), TRAINING, distractors=(1, 1)).jpeg(quality=92)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    loaded = localiser_active_load()
    head = active_head_load()
    if loaded is None or head is None:
        sys.exit("Needs an active localiser and head: train_localiser, train_head.")
    localiser = loaded[1]
    catalogue = relevance.load_catalogue()
    projection = relevance.choose_projection(catalogue, vs_settings.INDEX_DIMS)
    index = relevance.build_index(catalogue, projection.data, head.model, head.pk)
    twins = relevance.catalogue_twins(catalogue)
    search = _searcher(catalogue, index)
    row_of = {int(pid): row for row, pid in enumerate(catalogue.ids)}
    val = [int(p) for p, s in zip(catalogue.ids, split_of(catalogue.ids), strict=True) if s == "val"]
    chosen = photo_order(val, salt="whole-area")[:count]
    products = products_by_ids(chosen)
    # kind, area, both@1, both@5, whole@1, whole@5, on a studio-white backdrop
    records: list[Record] = []
    detections_seen = {kind: [] for kind in KINDS}
    for number, pid in enumerate(tqdm(chosen, desc="validation products")):
        product = products.get(pid)
        if product is None:
            continue
        try:
            with product.image.open("rb") as handle:
                data = handle.read()
        except OSError:
            continue
        row = row_of[pid]
        same = set(np.flatnonzero(twins.group == twins.group[row]).tolist()) | {row}
        for kind in KINDS:
            upload = photo_bytes(kind, pid, data, number)
            rgb = decoded_upload(upload)
            whole = to_model_input(rgb)[np.newaxis]
            whole_vector, maps = embed_with_features(whole)
            detections = localiser.detect(maps[0])
            detections_seen[kind].append(len(detections))
            if len(detections) != 1:
                continue
            box = detections[0].box
            area = (box[2] - box[0]) * (box[3] - box[1])
            crop = region_inputs(upload, rgb, [box])
            crop_vector = embed_batch(crop)
            both = StoredItem(
                box,
                None,
                "detected",
                np.vstack([crop_vector, whole_vector]),
                query_colour(np.stack([crop[0], whole[0]])),
            )
            alone = StoredItem(box, None, "detected", whole_vector, query_colour(whole))
            found_both, found_whole = search(both), search(alone)
            records.append(
                (
                    kind,
                    area,
                    bool(found_both[:1]) and found_both[0] in same,
                    bool(same.intersection(found_both[:K])),
                    bool(found_whole[:1]) and found_whole[0] in same,
                    bool(same.intersection(found_whole[:K])),
                    studio_backdrop(rgb),
                )
            )
    print(f"# {len(chosen)} validation products, head {head.version}, localiser {loaded[0]}")
    for kind in KINDS:
        seen = np.asarray(detections_seen[kind])
        one, none, more = np.mean(seen == 1), np.mean(seen == 0), np.mean(seen > 1)
        print(f"# {kind}: {len(seen)} photos, one item found in {one:.3f}, none {none:.3f}, more {more:.3f}")
    print(
        f"{'kind':<10}{'area >=':>8}{'photos':>8}{'share':>8}{'box+whole @1/@5':>18}{'whole @1/@5':>14}"
        f"{'lost@5':>8}{'won@5':>7}"
    )
    for kind in (*KINDS, "all"):
        rows = [r for r in records if kind == "all" or r[0] == kind]
        total = len(detections_seen[kind]) if kind != "all" else sum(len(v) for v in detections_seen.values())
        for threshold in THRESHOLDS:
            on = [r for r in rows if r[1] >= threshold]
            if not on:
                print(f"{kind:<10}{threshold:>8.2f}{0:>8}")
                continue
            b1, b5, w1, w5, _lost1, lost, won = compared(on)
            print(
                f"{kind:<10}{threshold:>8.2f}{len(on):>8}{len(on) / max(total, 1):>8.3f}"
                f"{f'{b1:.3f} / {b5:.3f}':>18}{f'{w1:.3f} / {w5:.3f}':>14}{lost:>8}{won:>7}"
            )
    studio_lines(records)


Record = tuple[str, float, bool, bool, bool, bool, bool]


def compared(on: list[Record]) -> tuple[float, float, float, float, int, int, int]:
    """Box + whole @1, @5, whole alone @1, @5 (means), and how many photos the whole photo alone
    lost @1, lost @5 and won @5."""
    b1, b5, w1, w5 = (float(np.mean([r[i] for r in on])) for i in (2, 3, 4, 5))
    lost1 = sum(r[2] and not r[4] for r in on)
    lost5 = sum(r[3] and not r[5] for r in on)
    won5 = sum(r[5] and not r[3] for r in on)
    return b1, b5, w1, w5, lost1, lost5, won5


def studio_lines(records: list[Record]) -> None:
    """The same comparison for photos on a studio-white backdrop, whatever their box's area."""
    for kind in (*KINDS, "all"):
        on = [r for r in records if r[6] and (kind == "all" or r[0] == kind)]
        if not on:
            print(f"studio {kind:<10} 0 photos")
            continue
        b1, b5, w1, w5, lost1, lost, _won = compared(on)
        print(
            f"studio {kind:<10}{len(on):>6} photos: box+whole {b1:.3f} / {b5:.3f}, whole {w1:.3f} / {w5:.3f}, "
            f"lost @1 {lost1}, lost @5 {lost}"
        )


if __name__ == "__main__":
    main()
