# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Which item-localiser head and box rules find the items best, on validation data only?

Training scenes of training products (the TRAINING backgrounds, the localiser's own training
seed) and validation scenes of validation products (another seed, half of them with two
items) go once through the frozen ResNet50; their 14 × 14 stage-4 maps are cached in
``--cache`` so that every variant below costs only its fit. Each variant is a head (which cells
it learns from, its regularisation, its context) and the box rules picked on the validation
scenes and validation product photos as ``train_localiser`` picks them. Prints, per variant:
one-item scenes whose first box has IoU >= 0.5, two-item scenes' items found and both found,
boxes per scene, and the share of validation shopper photos (one product each,
``localiser_training.product_photo_inputs``) cut into several boxes. ``--rules`` prints every
rule of today's head instead. The evaluation split, seed and backgrounds are never used.

    python lab/experiments/localiser_heads.py [--scenes 1000] [--validation-scenes 300]
        [--product-photos 500] [--cache F] [--rules]
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

from visualsearch.ml import embedder, scenes
from visualsearch.ml import localiser_training as lt
from visualsearch.ml.localiser import Localiser
from visualsearch.services.localisers import _product_images


def embedded(ids, load, count, seed, two_item_share, cache, name):  # type: ignore[no-untyped-def]
    path = f"{cache}.{name}.npz"
    # As train_localiser: training scenes on the TRAINING backgrounds, validation on VALIDATION's.
    backgrounds = scenes.VALIDATION if name == "val" else scenes.TRAINING
    made = list(lt.scenes_of(ids, load, count, seed, backgrounds=backgrounds, two_item_share=two_item_share))
    if os.path.exists(path):
        with np.load(path) as data:
            return made, data["maps"]
    started = time.perf_counter()
    _, maps = lt.embedded_scenes(iter(made), lambda batch: embedder.embed_with_features(batch)[1], count, None, name)
    np.savez(path, maps=maps)
    print(f"{name}: {count} scenes embedded in {time.perf_counter() - started:.0f} s", flush=True)
    return made, maps


def figures_of(localiser, val_scenes, val_maps, photo_maps):  # type: ignore[no-untyped-def]
    figures = lt.scene_figures(localiser, val_scenes, val_maps)
    figures["product_photo_split"] = lt.product_photo_split(localiser, photo_maps)
    return figures


def rules(weights, bias, val_scenes, val_maps, photo_maps, candidates):  # type: ignore[no-untyped-def]
    """The best of the candidate box rules (Localiser keyword arguments) on the validation
    scenes and product photos, by train_localiser's own choice score."""
    best, best_score = None, -np.inf
    for extra in candidates:
        figures = figures_of(Localiser(weights, bias, **extra), val_scenes, val_maps, photo_maps)
        score = lt._choice_score(figures)
        if score > best_score:
            best, best_score = (extra, figures), score
    return best


def line(name, figures):  # type: ignore[no-untyped-def]
    return (
        f"{name:44s} first IoU>=0.5 {figures['first_box_iou50']:.3f}  two-item items "
        f"{figures['two_item_recall']:.3f} both {figures['two_item_both']:.3f}  "
        f"boxes {figures['boxes_per_scene']:.2f}  product photos cut {figures['product_photo_split']:.3f}  "
        f"score {lt._choice_score(figures):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--validation-scenes", type=int, default=300)
    parser.add_argument("--cache", default="/tmp/localiser-heads")
    parser.add_argument("--variants", default="all")
    parser.add_argument("--product-photos", type=int, default=500)
    parser.add_argument("--rules", action="store_true", help="every rule of today's head")
    args = parser.parse_args()
    train_ids, val_ids, load = _product_images()
    options = lt.TrainingOptions()
    scenes, maps = embedded(train_ids, load, args.scenes, options.seed, options.two_item_share, args.cache, "train")
    val_scenes, val_maps = embedded(
        val_ids, load, args.validation_scenes, options.seed + lt.VALIDATION_SEED_OFFSET, 0.5, args.cache, "val"
    )
    photos = lt.product_photo_inputs(
        val_ids, load, args.product_photos, options.seed + lt.PRODUCT_PHOTO_SEED_OFFSET + 100
    )
    photo_maps = lt.feature_maps(photos, lambda batch: embedder.embed_with_features(batch)[1])
    fixed = [dict(threshold=t, split_threshold=c) for t in (0.4, 0.5, 0.6) for c in (0.7, 0.8, 0.9, 0.95) if c > t]
    adaptive = [dict(threshold=t, split_core=c) for t in (0.4, 0.5, 0.6) for c in (1.5, 2.0, 3.0)]
    if args.rules:
        x, y = lt.training_cells(scenes, maps, options.cells_per_class, options.seed)
        weights, bias = lt.fit_head(x, y, options.regularisation)
        every = [dict(threshold=t, split_core=c) for t in (0.4, 0.5, 0.6) for c in (1.5, 2.0, 3.0, 4.0, 6.0)]
        for extra in fixed + every:
            print(line(str(extra), figures_of(Localiser(weights, bias, **extra), val_scenes, val_maps, photo_maps)))
        return
    variants = {
        "24 cells, C 0.05, fixed split": dict(per_class=24, c=0.05, rules=fixed),
        "24 cells, C 0.05, adaptive split": dict(per_class=24, c=0.05, rules=adaptive),
        "64 cells, C 0.05, fixed split": dict(per_class=64, c=0.05, rules=fixed),
        "64 cells, C 0.05, adaptive split": dict(per_class=64, c=0.05, rules=adaptive),
        "every cell, C 0.05, adaptive split": dict(per_class=196, c=0.05, rules=adaptive),
        "24 cells, C 0.3, adaptive split": dict(per_class=24, c=0.3, rules=adaptive),
    }
    for name, variant in variants.items():
        if args.variants != "all" and not any(part in name for part in args.variants.split(",")):
            continue
        started = time.perf_counter()
        x, y = lt.training_cells(scenes, maps, variant["per_class"], options.seed)
        weights, bias = lt.fit_head(x, y, variant["c"])
        rule, figures = rules(weights, bias, val_scenes, val_maps, photo_maps, variant["rules"])
        print(line(f"{name} {rule}", figures), f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
