"""The item localiser's parts without the model: objectness maps → boxes, its bytes, and the
scene generator's boxes known by construction (visualsearch.ml.localiser, visualsearch.ml.scenes)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.support.catalogue import catalogue_rows, photo_path
from visualsearch.ml import scenes
from visualsearch.ml.localiser import FEATURE_DIM, Localiser, boxes_from_objectness, cell_features
from visualsearch.ml.localiser_training import cell_coverage


def blob_map(*rects: tuple[int, int, int, int], value: float = 0.95) -> np.ndarray:
    """A 14×14 objectness map: ``value`` inside each (x0, y0, x1, y1) cell rectangle, 0.02 elsewhere."""
    grid = np.full((14, 14), 0.02, np.float32)
    for x0, y0, x1, y1 in rects:
        grid[y0:y1, x0:x1] = value
    return grid


def test_one_region_gives_one_box_where_it_lies() -> None:
    detections = boxes_from_objectness(blob_map((2, 3, 7, 10)), margin=0.0)
    assert len(detections) == 1
    box = detections[0].box
    assert scenes.iou(box, (2 / 14, 3 / 14, 7 / 14, 10 / 14)) >= 0.8
    assert 0.5 < detections[0].score <= 1.0


def test_two_regions_give_two_boxes_most_confident_first() -> None:
    grid = blob_map((1, 1, 5, 6))
    grid[8:13, 8:13] = 0.7
    detections = boxes_from_objectness(grid, margin=0.0)
    assert len(detections) == 2
    assert detections[0].score > detections[1].score
    assert scenes.iou(detections[0].box, (1 / 14, 1 / 14, 5 / 14, 6 / 14)) >= 0.7
    assert scenes.iou(detections[1].box, (8 / 14, 8 / 14, 13 / 14, 13 / 14)) >= 0.7


def test_two_items_touching_are_split_between_their_cores() -> None:
    # One region above the threshold, two cores above the split threshold: a top beside shoes.
    grid = blob_map((1, 4, 13, 10), value=0.6)
    grid[5:9, 2:5] = 0.97
    grid[5:9, 9:12] = 0.97
    detections = boxes_from_objectness(grid, threshold=0.5, split_threshold=0.8, margin=0.0)
    assert len(detections) == 2
    lefts = sorted(d.box[0] for d in detections)
    assert lefts[0] < 0.2 and lefts[1] > 0.4


def test_two_items_joined_by_a_lower_valley_split_where_it_falls_apart() -> None:
    # Two items of unequal brightness joined by a bridge just above the threshold: no level
    # holds two cores above 0.8 (the fixed rule keeps one box), but the region falls apart
    # into two item-sized parts at 0.6.
    grid = blob_map((2, 4, 6, 10), value=0.95)
    grid[4:10, 8:12] = 0.7
    grid[6:8, 6:8] = 0.55  # the bridge
    fixed = boxes_from_objectness(grid, threshold=0.5, split_threshold=0.8, margin=0.0)
    assert len(fixed) == 1
    adaptive = boxes_from_objectness(grid, threshold=0.5, split_core=1.5, margin=0.0)
    assert len(adaptive) == 2
    assert scenes.iou(adaptive[0].box, (2 / 14, 4 / 14, 6 / 14, 10 / 14)) >= 0.7
    assert scenes.iou(adaptive[1].box, (8 / 14, 4 / 14, 12 / 14, 10 / 14)) >= 0.6  # the bridge shared


def test_a_small_lobe_does_not_split_an_item_in_two() -> None:
    # One item with a small brighter knot (a logo, a buckle): its parts above the knot's level
    # are one item-sized part and a speck, so the item stays one box.
    grid = blob_map((2, 2, 11, 12), value=0.7)
    grid[3:5, 3:5] = 0.95
    grid[8, 8] = 0.95
    detections = boxes_from_objectness(grid, threshold=0.5, split_core=1.5, margin=0.0)
    assert len(detections) == 1
    assert scenes.iou(detections[0].box, (2 / 14, 2 / 14, 11 / 14, 12 / 14)) >= 0.8


def test_a_stored_localiser_without_the_adaptive_rule_keeps_its_fixed_split() -> None:
    localiser = Localiser(np.zeros(2 * FEATURE_DIM, np.float32), bias=0.0, split_core=2.0)
    assert Localiser.from_bytes(localiser.to_bytes()).split_core == 2.0
    old = Localiser(np.zeros(2 * FEATURE_DIM, np.float32), bias=0.0)  # as stored before: no split_core
    assert Localiser.from_bytes(old.to_bytes()).split_core == 0.0


def test_an_empty_map_or_a_speck_finds_nothing() -> None:
    assert boxes_from_objectness(np.full((14, 14), 0.05, np.float32)) == []
    speck = np.full((14, 14), 0.05, np.float32)
    speck[7, 7] = 0.9
    assert boxes_from_objectness(speck, min_area=0.05) == []


def test_the_head_reads_each_cell_and_round_trips_as_bytes() -> None:
    weights = np.zeros(2 * FEATURE_DIM, np.float32)
    weights[0] = 4.0  # the first feature, square-rooted: on an item where it is large
    localiser = Localiser(weights, bias=-2.0, metrics={"first_box_iou50": 0.9})
    feature_map = np.zeros((14, 14, FEATURE_DIM), np.float32)
    feature_map[2:8, 6:12, 0] = 4.0
    assert cell_features(feature_map).shape == (14, 14, 2 * FEATURE_DIM)
    detections = localiser.detect(feature_map)
    assert len(detections) == 1 and scenes.iou(detections[0].box, (6 / 14, 2 / 14, 12 / 14, 8 / 14)) >= 0.6
    again = Localiser.from_bytes(localiser.to_bytes())
    assert again.metrics == {"first_box_iou50": 0.9} and again.threshold == localiser.threshold
    assert np.array_equal(again.weights, localiser.weights)
    with pytest.raises(ValueError):
        Localiser.from_bytes(b"not a localiser")


@pytest.fixture(scope="module")
def products() -> list[tuple[int, Image.Image]]:
    rows = [row for row in catalogue_rows(12) if photo_path(row).is_file()][:6]
    return [(int(row["id"]), Image.open(photo_path(row)).convert("RGB")) for row in rows]


def test_a_scene_knows_where_its_items_lie(products) -> None:
    for number in range(6):
        scene = scenes.make_scene(products[number : number + 1], scenes.scene_rng(5, number), scenes.EVALUATION)
        (item,) = scene.items
        x0, y0, x1, y1 = item.box
        area = (x1 - x0) * (y1 - y0)
        assert 0.08 <= area <= 0.45, area  # 15–40 % of the frame, less after a turn's corners
        ys, xs = np.nonzero(scene.mask == 1)
        w, h = scene.image.size
        # Every pixel of the item lies inside its box.
        assert xs.min() >= int(x0 * w) and xs.max() < round(x1 * w) + 1
        assert ys.min() >= int(y0 * h) and ys.max() < round(y1 * h) + 1
        coverage = cell_coverage(scene)
        assert coverage.shape == (14, 14) and coverage.max() > 0.9


def test_two_items_lie_apart_and_the_same_seed_gives_the_same_scene(products) -> None:
    for number in range(4):
        pair = products[number : number + 2]
        scene = scenes.make_scene(pair, scenes.scene_rng(9, number), scenes.TRAINING)
        assert [item.product_id for item in scene.items] == [pid for pid, _ in pair]
        assert scenes.iou(scene.items[0].box, scene.items[1].box) == 0.0
        again = scenes.make_scene(pair, scenes.scene_rng(9, number), scenes.TRAINING)
        assert np.array_equal(np.asarray(scene.image), np.asarray(again.image))


def test_training_validation_and_evaluation_never_share_a_background_photo() -> None:
    sets = (scenes.TRAINING, scenes.VALIDATION, scenes.EVALUATION)
    for number, first in enumerate(sets):
        for second in sets[number + 1 :]:
            assert not set(first.photos) & set(second.photos), (first.name, second.name)
    assert scenes.TRAINING_SEED != scenes.EVALUATION_SEED
    # Every photo ships with its package (no download at training time), as RGB.
    for backgrounds in sets:
        for name in backgrounds.photos:
            photo = scenes._photo(name)
            assert photo.mode == "RGB" and min(photo.size) >= 100, name


def test_the_localisers_rule_is_chosen_on_backgrounds_its_training_never_saw(products, monkeypatch) -> None:
    from visualsearch.ml import localiser_training as training

    made: list[tuple[str, int]] = []
    real = training.scenes_of

    def recording(ids, load, count, seed, *, backgrounds=scenes.TRAINING, **options):  # type: ignore[no-untyped-def]
        for scene in real(ids, load, count, seed, backgrounds=backgrounds, **options):
            made.append((backgrounds.name, seed))
            yield scene

    monkeypatch.setattr(training, "scenes_of", recording)
    images = dict(products)
    ids = list(images)

    def features_of(batch: np.ndarray) -> np.ndarray:
        # Stands in for the model (not what is under test): a cell is bright where the photo is
        # not white, so that the head has both classes to learn.
        small = np.stack([np.asarray(Image.fromarray(x).resize((14, 14))) for x in batch]).astype(np.float32)
        out = np.zeros((len(batch), 14, 14, FEATURE_DIM), np.float32)
        out[..., 0] = 255.0 - small.mean(axis=-1)
        return out

    options = training.TrainingOptions(scenes=8, validation_scenes=4, product_photos=2, seed=5)
    training.train_localiser(ids[:4], ids[4:], images.__getitem__, features_of, options)
    assert [name for name, _ in made] == ["training"] * 8 + ["validation"] * 4
    assert len({seed for _, seed in made}) == 2  # and another seed


def test_a_rule_that_cuts_a_product_photo_in_two_pays_for_it(products) -> None:
    from visualsearch.ml import localiser_training as training

    weights = np.zeros(2 * FEATURE_DIM, np.float32)
    weights[0] = 4.0
    localiser = Localiser(weights, bias=-2.0, split_core=1.5)
    one = np.zeros((14, 14, FEATURE_DIM), np.float32)
    one[2:12, 2:12, 0] = 4.0  # one product filling the photo: one box
    two = np.zeros((14, 14, FEATURE_DIM), np.float32)
    two[2:12, 1:5, 0] = 4.0
    two[2:12, 9:13, 0] = 4.0  # the same photo seen as two parts: cut in two
    assert training.product_photo_split(localiser, np.stack([one, one, one, two])) == 0.25
    figures = {"first_box_iou50": 0.9, "two_item_recall": 0.8}
    assert training._choice_score(figures) == pytest.approx(1.7)
    assert training._choice_score({**figures, "product_photo_split": 0.1}) == pytest.approx(1.6)
    # The photos it is measured on: validation products as a shopper photographs them.
    images = dict(products)
    photos = training.product_photo_inputs(list(images), images.__getitem__, 4, seed=3)
    assert photos.shape == (4, 224, 224, 3) and photos.dtype == np.uint8
    again = training.product_photo_inputs(list(images), images.__getitem__, 4, seed=3)
    assert np.array_equal(photos, again)
