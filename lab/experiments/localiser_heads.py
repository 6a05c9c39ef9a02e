# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Which item-localiser head and box rules find the items best, on validation scenes only?

Training scenes of training products (the TRAINING backgrounds, the localiser's own training
seed) and validation scenes of validation products (another seed, half of them with two
items) go once through the frozen ResNet50; their 14 × 14 stage-4 maps are cached in
``--cache`` so that every variant below costs only its fit. Each variant is a head (which cells
it learns from, its regularisation, its context) and the box rules picked on the validation
scenes as ``train_localiser`` picks them. Prints, per variant: one-item scenes whose first box
has IoU >= 0.5, two-item scenes' items found and both found, boxes per scene. The evaluation
split, seed and backgrounds are never used.

    python lab/experiments/localiser_heads.py [--scenes 1000] [--validation-scenes 300] [--cache F]
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

from visualsearch.ml import embedder
from visualsearch.ml import localiser_training as lt
from visualsearch.ml.localiser import Localiser
from visualsearch.services.localisers import _product_images


def embedded(ids, load, count, seed, two_item_share, cache, name):  # type: ignore[no-untyped-def]
    path = f"{cache}.{name}.npz"
    scenes = list(lt.scenes_of(ids, load, count, seed, two_item_share=two_item_share))
    if os.path.exists(path):
        with np.load(path) as data:
            return scenes, data["maps"]
    started = time.perf_counter()
    _, maps = lt.embedded_scenes(iter(scenes), lambda batch: embedder.embed_with_features(batch)[1], count, None, name)
    np.savez(path, maps=maps)
    print(f"{name}: {count} scenes embedded in {time.perf_counter() - started:.0f} s", flush=True)
    return scenes, maps


def rules(weights, bias, val_scenes, val_maps, candidates):  # type: ignore[no-untyped-def]
    """The best of the candidate box rules (Localiser keyword arguments) on the validation
    scenes, by train_localiser's own choice score."""
    best, best_score = None, -1.0
    for extra in candidates:
        figures = lt.scene_figures(Localiser(weights, bias, **extra), val_scenes, val_maps)
        score = figures["first_box_iou50"] + figures["two_item_recall"]
        if score > best_score:
            best, best_score = (extra, figures), score
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--validation-scenes", type=int, default=300)
    parser.add_argument("--cache", default="/tmp/localiser-heads")
    parser.add_argument("--variants", default="all")
    args = parser.parse_args()
    train_ids, val_ids, load = _product_images()
    options = lt.TrainingOptions()
    scenes, maps = embedded(train_ids, load, args.scenes, options.seed, options.two_item_share, args.cache, "train")
    val_scenes, val_maps = embedded(
        val_ids, load, args.validation_scenes, options.seed + lt.VALIDATION_SEED_OFFSET, 0.5, args.cache, "val"
    )
    fixed = [dict(threshold=t, split_threshold=c) for t in (0.4, 0.5, 0.6) for c in (0.7, 0.8, 0.9, 0.95) if c > t]
    adaptive = [dict(threshold=t, split_core=c) for t in (0.4, 0.5, 0.6) for c in (1.5, 2.0, 3.0)]
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
        rule, figures = rules(weights, bias, val_scenes, val_maps, variant["rules"])
        print(
            f"{name:36s} cells {len(y):6d}  rule {rule}  first IoU>=0.5 "
            f"{figures['first_box_iou50']:.3f} (mean {figures['first_box_iou']:.3f})  two-item items "
            f"{figures['two_item_recall']:.3f} both {figures['two_item_both']:.3f}  boxes "
            f"{figures['boxes_per_scene']:.2f}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
