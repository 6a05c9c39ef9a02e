# ruff: noqa: E402  (a research script: Django is set up before the project's imports)
"""Experiment (issue 22's cost target): can the item localiser look at a smaller copy of the photo?

Photo search on a real-photo scene runs ResNet50 twice in a row: the whole photo at 224 px (its
embedding, and the stage-4 map the item localiser reads), then the detected boxes. The issue asks
for photo search p50 ≤ 1.5× the bare forward pass; scenes take 2.5–3.0×. One way there: the
localiser reads stage 4 of a smaller copy of the photo (no stage 5), and only the boxes go through
the whole network at 224. This measures both halves of that trade, on this machine:

1. **Time** (ONNX Runtime, the serving engine's session options and threads, batch 1, interleaved
   rounds, p50): the installed export (the bare forward pass, 224 px), a batch of two 224 inputs,
   and stage 4 alone at 224 / 192 / 160 / 128 px (a second export with free height and width, the
   same weights; checked against the serving engine's own stage-4 map at 224).
2. **Finding the items** at each size: a head trained as ``train_localiser`` trains it (its cells,
   labels, regularisation and candidate rules; the cells' grid is the smaller map's), on scenes of
   training products, chosen and measured on scenes and product photos of validation products
   (never the evaluation's products, seed or backgrounds).
3. **The projected cost** of a one-item and a two-item scene: stage 4 at that size, then one or two
   boxes at 224 (plus what the site does besides the model, which this does not time).

    python lab/experiments/localiser_resolution.py [--scenes 600] [--validation-scenes 300]
        [--product-photos 300] [--rounds 30] [--sizes 224,192,160,128]

Needs the catalogue imported (images; no embeddings) and the model installed. Feature maps are
cached under ``--cache`` (delete them after changing the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import numpy as np
from PIL import Image

from visualsearch.ml import embedder
from visualsearch.ml import localiser_training as lt
from visualsearch.ml.engines.onnx import INPUT_NAME, OnnxEngine, session_options
from visualsearch.ml.localiser import Localiser, cell_features
from visualsearch.ml.onnx_files import onnx_path
from visualsearch.ml.settings import current as current_settings
from visualsearch.ml.weights import resolve_weights_path
from visualsearch.services.localisers import _product_images

STAGE4 = "conv4_block6_out"


def stage4_export(path: Path) -> None:
    """ResNet50 up to stage 4 with free height and width, preprocessing in front, as ONNX."""
    import tensorflow as tf
    import tf2onnx

    from visualsearch.ml.engines.tensorflow import BN_EPSILON, keras_module, load_full_model

    keras = keras_module()
    full = load_full_model(resolve_weights_path())
    free = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(None, None, 3))
    for layer in free.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = BN_EPSILON
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    stage4 = keras.Model(free.input, free.get_layer(STAGE4).output)
    spec = tf.TensorSpec((None, None, None, 3), tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def forward(images):  # type: ignore[no-untyped-def]
        return stage4(keras.applications.resnet50.preprocess_input(images), training=False)

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=[spec], opset=17)
    path.write_bytes(proto.SerializeToString())


class Stage4:
    def __init__(self, path: Path) -> None:
        import onnxruntime

        settings = current_settings()
        self.session = onnxruntime.InferenceSession(
            str(path), session_options(settings.threads, settings.spinning), providers=["CPUExecutionProvider"]
        )
        self.output = self.session.get_outputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = np.asarray(self.session.run([self.output], {INPUT_NAME: np.asarray(images, np.float32)})[0])
        return np.ascontiguousarray(out.transpose(0, 2, 3, 1)) if out.shape[1] == 1024 else out


def resized(inputs: np.ndarray, size: int) -> np.ndarray:
    if size == inputs.shape[1]:
        return inputs
    return np.stack([np.asarray(Image.fromarray(x).resize((size, size), Image.Resampling.BILINEAR)) for x in inputs])


def coverage(masks: np.ndarray, grid: int) -> np.ndarray:
    """Each cell's share covered by an item, (N, 224, 224) 0/1 masks → (N, grid, grid)."""
    out = []
    for mask in masks:
        small = Image.fromarray((mask * 255).astype(np.uint8), "L").resize((grid * 16, grid * 16), Image.BILINEAR)
        array = np.asarray(small, np.float32) / 255.0
        out.append(array.reshape(grid, 16, grid, 16).mean(axis=(1, 3)))
    return np.stack(out)


def training_cells(maps: np.ndarray, cover: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for feature_map, cells in zip(maps, cover, strict=True):
        features = cell_features(feature_map.astype(np.float32)).reshape(-1, 2048)
        flat = cells.ravel()
        on, off = np.flatnonzero(flat >= lt.POSITIVE), np.flatnonzero(flat <= lt.NEGATIVE)
        on = rng.permutation(on)[:per_class]
        off = rng.permutation(off)[: max(per_class, len(on))]
        rows += [features[on], features[off]]
        labels += [np.ones(len(on), np.float32), np.zeros(len(off), np.float32)]
    return np.concatenate(rows), np.concatenate(labels)


def maps_of(stage4: Stage4, inputs: np.ndarray, size: int, cache: Path, name: str) -> np.ndarray:
    path = cache / f"{name}-{size}.npy"
    if path.exists():
        return np.load(path)
    small = resized(inputs, size)
    maps = np.concatenate([stage4(small[i : i + 16]) for i in range(0, len(small), 16)]).astype(np.float16)
    np.save(path, maps)
    return maps


def timings(stage4: Stage4, sizes: list[int], rounds: int) -> dict[str, float]:
    engine = OnnxEngine(onnx_path())
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 224, 224, 3)).astype(np.uint8)
    two = rng.integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    runs = {"bare forward pass, 224": lambda: engine.embed(one), "batch of two, 224": lambda: engine.embed(two)}
    for size in sizes:
        small = resized(one, size)
        runs[f"stage 4 only, {size}"] = lambda small=small: stage4(small)
    for run in runs.values():  # warm up
        run()
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) * 1000 for name, values in seconds.items()}


def print_timings(stage4: Stage4, sizes: list[int], rounds: int) -> dict[str, float]:
    threads = current_settings().threads or "ONNX Runtime's default"
    print(f"\nTime, p50 of {rounds} interleaved rounds, batch 1 (ONNX Runtime, threads: {threads})")
    ms = timings(stage4, sizes, rounds)
    bare = ms["bare forward pass, 224"]
    for name, value in ms.items():
        print(f"  {name:28s} {value:7.1f} ms  {value / bare:.2f}×", flush=True)
    return ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=600)
    parser.add_argument("--validation-scenes", type=int, default=300)
    parser.add_argument("--product-photos", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sizes", default="224,192,160,128")
    parser.add_argument("--cache", default="/tmp/localiser-resolution")
    parser.add_argument("--time-only", action="store_true", help="only the timings (no scenes, no heads)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    export = cache / "stage4.onnx"
    if not export.exists():
        stage4_export(export)
    stage4 = Stage4(export)

    if args.time_only:
        print_timings(stage4, sizes, args.rounds)
        return
    train_ids, val_ids, load = _product_images()
    options = lt.TrainingOptions()
    train = list(lt.scenes_of(train_ids, load, args.scenes, options.seed, two_item_share=options.two_item_share))
    val_seed = options.seed + lt.VALIDATION_SEED_OFFSET
    val = list(lt.scenes_of(val_ids, load, args.validation_scenes, val_seed, two_item_share=0.5))
    # (measured before train_localiser moved its validation scenes to the VALIDATION backgrounds:
    # these keep the TRAINING ones, so the figures in docs/relevance.md reproduce)
    photos = lt.product_photo_inputs(val_ids, load, args.product_photos, options.seed + lt.PRODUCT_PHOTO_SEED_OFFSET)
    inputs = {name: np.stack([lt.model_input(s) for s in scenes]) for name, scenes in (("train", train), ("val", val))}

    def mask_of(scene):  # type: ignore[no-untyped-def]
        return np.asarray(Image.fromarray(((scene.mask > 0) * 255).astype(np.uint8)).resize((224, 224))) > 127

    masks = np.stack([mask_of(s) for s in train]).astype(np.float32)

    # The export agrees with the serving engine's own stage-4 map at 224.
    ours = stage4(inputs["val"][:4])
    theirs = embedder.embed_with_features(inputs["val"][:4])[1]
    cosine = float((ours * theirs).sum() / np.linalg.norm(ours) / np.linalg.norm(theirs))
    print(f"stage-4 export against the serving engine at 224: cosine {cosine:.6f}", flush=True)

    ms = print_timings(stage4, sizes, args.rounds)
    bare = ms["bare forward pass, 224"]

    print("\nFinding the items (validation scenes and product photos; rule chosen as train_localiser does)")
    for size in sizes:
        grid = size // 16
        started = time.perf_counter()
        train_maps = maps_of(stage4, inputs["train"], size, cache, f"train{args.scenes}")
        val_maps = maps_of(stage4, inputs["val"], size, cache, f"val{args.validation_scenes}")
        photo_maps = maps_of(stage4, photos, size, cache, f"photos{args.product_photos}")
        x, y = training_cells(train_maps, coverage(masks, grid), options.cells_per_class, options.seed)
        weights, bias = lt.fit_head(x, y, options.regularisation)
        head = Localiser(weights, bias)
        val_objectness = lt._objectness(head, val_maps)
        photo_objectness = lt._objectness(head, photo_maps)
        best, best_score = None, -np.inf
        for candidate in lt._candidates(weights, bias, options):
            figures = lt.validation_figures(candidate, val, val_objectness, photo_objectness)
            if lt._choice_score(figures) > best_score:
                best, best_score = (candidate, figures), lt._choice_score(figures)
        assert best is not None
        rule, figures = best
        stage = ms.get(f"stage 4 only, {size}", float("nan"))
        one_item = (stage + bare) / bare
        two_item = (stage + ms["batch of two, 224"]) / bare
        print(
            f"  {size} px ({grid}×{grid} cells): first box IoU>=0.5 {figures['first_box_iou50']:.3f}, "
            f"mean IoU {figures['first_box_iou']:.3f}, two-item items {figures['two_item_recall']:.3f}, "
            f"both {figures['two_item_both']:.3f}, product photos cut {figures['product_photo_split']:.3f}; "
            f"rule threshold {rule.threshold} split {rule.split_core or rule.split_threshold}; "
            f"model cost of a scene: one box {one_item:.2f}×, two boxes {two_item:.2f}× "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
