# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Experiment: how much to trust the item localiser's validation (issue 22).

``train_localiser`` picks its box rule on validation scenes and product photos. Two questions:

1. ``--backgrounds``: which backgrounds should the validation scenes have? The head is trained on
   scenes of the TRAINING backgrounds; validating on them too measures it on photos it has
   learned. Here the same head and every candidate rule are measured on 300 scenes of validation
   products (the validation seed) on each of the three background sets: TRAINING, VALIDATION and
   EVALUATION. The last is a diagnostic of how the rule fares on backgrounds nobody trained or
   chose on (validation products, not the held-out ones; nothing is chosen on it). Prints each
   rule's figures on each set, the rule each set would choose, the rank correlation of the
   rules' scores with the EVALUATION set's, and the mean gap of the figures to it.
2. ``--photo-blocks``: how steady is the share of one-product photos a rule cuts into several
   boxes? The validation product photos of two seeds (the command's, and +100), 500 each, by
   blocks of 100, for the fixed rule 0.4 / 0.7 and the adaptive split 3.0 at 0.4.

    python lab/experiments/localiser_validation.py [--backgrounds] [--photo-blocks]
        [--scenes 1000] [--validation-scenes 300] [--cache /tmp/localiser-validation]

The head is trained as ``train_localiser`` trains it (its options); feature maps are cached
under ``--cache`` (delete them after changing the weights or the catalogue).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
import numpy as np
from scipy.stats import spearmanr

from visualsearch.ml import embedder, scenes
from visualsearch.ml import localiser_training as lt
from visualsearch.ml.localiser import Localiser
from visualsearch.services.localisers import _product_images


def features_of(batch):  # type: ignore[no-untyped-def]
    return embedder.embed_with_features(batch)[1]


def cached_maps(path, make):  # type: ignore[no-untyped-def]
    if os.path.exists(path):
        with np.load(path) as data:
            return data["maps"]
    started = time.perf_counter()
    maps = make()
    np.savez(path, maps=maps)
    print(f"{os.path.basename(path)}: embedded in {time.perf_counter() - started:.0f} s", flush=True)
    return maps


def photo_maps(val_ids, load, count, seed, path):  # type: ignore[no-untyped-def]
    def make():  # type: ignore[no-untyped-def]
        photos = lt.product_photo_inputs(val_ids, load, count, seed)
        return lt.feature_maps(photos, features_of)

    return cached_maps(path, make)


def rule_name(localiser: Localiser) -> str:
    rule = f"core {localiser.split_core}" if localiser.split_core else f"fixed {localiser.split_threshold}"
    return f"threshold {localiser.threshold}, {rule}"


def compare_backgrounds(head_weights, bias, val_ids, load, options, count, cache, photo_objectness):  # type: ignore[no-untyped-def]
    head = Localiser(head_weights, bias)
    val_seed = options.seed + lt.VALIDATION_SEED_OFFSET
    results: dict[str, dict[str, dict[str, float]]] = {}
    for backgrounds in (scenes.TRAINING, scenes.VALIDATION, scenes.EVALUATION):
        made = list(lt.scenes_of(val_ids, load, count, val_seed, backgrounds=backgrounds, two_item_share=0.5))
        maps = cached_maps(
            f"{cache}.{backgrounds.name}-{count}.npz",
            lambda made=made: lt.embedded_scenes(iter(made), features_of, count, None, "")[1],
        )
        objectness = lt._objectness(head, maps)
        results[backgrounds.name] = {
            rule_name(candidate): lt.validation_figures(candidate, made, objectness, photo_objectness)
            for candidate in lt._candidates(head_weights, bias, options)
        }
    names = list(results)
    rules = list(results[names[0]])
    print(f"\n{count} scenes of validation products on each background set: first box IoU >= 0.5 / two-item")
    print("items found / both / choice score (product photos cut, the same photos for all three)")
    print(f"{'rule':34s}" + "".join(f"{name:>34s}" for name in names))
    for rule in rules:
        cells = [
            f"{f['first_box_iou50']:.3f} / {f['two_item_recall']:.3f} / {f['two_item_both']:.3f} / "
            f"{lt._choice_score(f):.3f}"
            for f in (results[name][rule] for name in names)
        ]
        print(f"{rule:34s}" + "".join(f"{cell:>34s}" for cell in cells))
    reference = [lt._choice_score(results["evaluation"][rule]) for rule in rules]
    for name in names:
        chosen = max(rules, key=lambda rule: lt._choice_score(results[name][rule]))
        on_unseen = lt._choice_score(results["evaluation"][chosen])
        print(f"{name} backgrounds choose {chosen} (its score on the evaluation backgrounds {on_unseen:.3f})")
    for name in ("training", "validation"):
        scores = [lt._choice_score(results[name][rule]) for rule in rules]
        first = np.mean(
            [results[name][r]["first_box_iou50"] - results["evaluation"][r]["first_box_iou50"] for r in rules]
        )
        items = np.mean(
            [results[name][r]["two_item_recall"] - results["evaluation"][r]["two_item_recall"] for r in rules]
        )
        print(
            f"{name}: rank correlation with the evaluation backgrounds {spearmanr(scores, reference).correlation:.2f}; "
            f"mean gap to them: first box {first:+.3f}, two-item items {items:+.3f}"
        )


def photo_blocks(head_weights, bias, val_ids, load, options, cache):  # type: ignore[no-untyped-def]
    print("\nValidation product photos cut into several boxes, 500 photos per seed, blocks of 100")
    for offset in (lt.PRODUCT_PHOTO_SEED_OFFSET, lt.PRODUCT_PHOTO_SEED_OFFSET + 100):
        maps = photo_maps(val_ids, load, 500, options.seed + offset, f"{cache}.photos{offset}.npz")
        for rule in (dict(threshold=0.4, split_threshold=0.7), dict(threshold=0.4, split_core=3.0)):
            localiser = Localiser(head_weights, bias, **rule)
            cut = np.asarray([len(localiser.boxes(cells)) > 1 for cells in lt._objectness(localiser, maps)])
            blocks = " ".join(f"{cut[i : i + 100].mean():.2f}" for i in range(0, len(cut), 100))
            print(
                f"  seed +{offset}, {rule_name(localiser)}: all {cut.mean():.3f}, first 200 {cut[:200].mean():.3f}, "
                f"blocks {blocks}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backgrounds", action="store_true")
    parser.add_argument("--photo-blocks", action="store_true")
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--validation-scenes", type=int, default=300)
    parser.add_argument("--cache", default="/tmp/localiser-validation")
    args = parser.parse_args()
    train_ids, val_ids, load = _product_images()
    options = lt.TrainingOptions()
    made = list(lt.scenes_of(train_ids, load, args.scenes, options.seed, two_item_share=options.two_item_share))
    maps = cached_maps(
        f"{args.cache}.train-{args.scenes}.npz",
        lambda: lt.embedded_scenes(iter(made), features_of, args.scenes, None, "")[1],
    )
    x, y = lt.training_cells(made, maps, options.cells_per_class, options.seed)
    weights, bias = lt.fit_head(x, y, options.regularisation)
    if args.backgrounds:
        offset = lt.PRODUCT_PHOTO_SEED_OFFSET
        photos = photo_maps(
            val_ids, load, options.product_photos, options.seed + offset, f"{args.cache}.photos{offset}.npz"
        )
        photo_objectness = lt._objectness(Localiser(weights, bias), photos)
        compare_backgrounds(weights, bias, val_ids, load, options, args.validation_scenes, args.cache, photo_objectness)
    if args.photo_blocks:
        photo_blocks(weights, bias, val_ids, load, options, args.cache)


if __name__ == "__main__":
    main()
