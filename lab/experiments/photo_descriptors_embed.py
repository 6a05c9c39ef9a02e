# ruff: noqa: E402  (a research script: Django / the path are set up before the project's imports)
"""One pass over the catalogue: store MAC + colour in the DB (as reindex does) and save
alternative poolings of the same forward pass to npy (EXP_DATA, default
var/experiments/photo_descriptors): c5 max (the stored vector), GeM, mean, R-MAC, and conv4
max / GeM; then the same for photo sets (held-out standard / hard, trimmed and whole;
validation; training hard seed 7 and standard seed 8), each with its mirror image.
Run from the repository root with DATABASE_URL set, after ``import_catalogue ... --no-embeddings``:

    python lab/experiments/photo_descriptors_embed.py catalogue
    python lab/experiments/photo_descriptors_embed.py photos
    python lab/experiments/photo_descriptors_embed.py more     # whole-photo variants
"""

import os
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from shop.models import Product
from visualsearch.ml import embedder
from visualsearch.ml import shopper_photos as SP
from visualsearch.ml.engines.tensorflow import keras_module, load_full_model
from visualsearch.ml.head import split_of
from visualsearch.ml.weights import resolve_weights_path
from visualsearch.query.photo import decode_photo, query_colour
from visualsearch.services import embeddings as E
from visualsearch.services import photo_pairs as PP

OUT = os.environ.get("EXP_DATA", "var/experiments/photo_descriptors")
os.makedirs(OUT, exist_ok=True)
keras = keras_module()
full = load_full_model(resolve_weights_path())
fm = keras.Model(full.input, [full.get_layer("conv4_block6_out").output, full.get_layer("conv5_block3_out").output])
NAMES = ["mac", "gem", "spoc", "rmac", "mac4", "gem4"]


def regions(n):
    out = [(0, n, 0, n)]
    for level, side in ((2, 5), (3, 4)):
        starts = sorted(set(np.linspace(0, n - side, level).round().astype(int)))
        out += [(a, a + side, b, b + side) for a in starts for b in starts]
    return out


REG = regions(7)


def l2(x):
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def describe(pixels):
    x = keras.applications.resnet50.preprocess_input(np.array(pixels, np.float32))
    c4, c5 = fm.predict_on_batch(x)
    c4 = np.asarray(c4, np.float32)
    c5 = np.asarray(c5, np.float32)
    d = {}
    d["mac"] = l2(c5.max(axis=(1, 2)))
    d["gem"] = l2(np.cbrt((np.maximum(c5, 0) ** 3).mean(axis=(1, 2))))
    d["spoc"] = l2(c5.mean(axis=(1, 2)))
    r = np.zeros_like(d["mac"])
    for a, b, c, e in REG:
        r += l2(c5[:, a:b, c:e].max(axis=(1, 2)))
    d["rmac"] = l2(r)
    d["mac4"] = l2(c4.max(axis=(1, 2)))
    d["gem4"] = l2(np.cbrt((np.maximum(c4, 0) ** 3).mean(axis=(1, 2))))
    return d


def catalogue():
    products = list(Product.objects.only("pk", "image").order_by("pk"))
    n = len(products)
    ids = np.array([p.pk for p in products], np.int64)
    np.save(f"{OUT}/ids.npy", ids)
    arrays = {
        k: np.lib.format.open_memmap(f"{OUT}/cat_{k}.npy", "w+", np.float16, (n, 1024 if k.endswith("4") else 2048))
        for k in NAMES
    }
    colours = np.zeros((n, 196), np.float32)
    ok = np.zeros(n, bool)
    B = 64
    chunks = [products[i : i + B] for i in range(0, n, B)]
    t0 = time.time()
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(E._load_images, chunks[0])
        for k, chunk in enumerate(chunks):
            loaded = fut.result()
            if k + 1 < len(chunks):
                fut = pool.submit(E._load_images, chunks[k + 1])
            good = [it for it in loaded if not it.error]
            if good:
                d = describe(np.stack([it.pixels for it in good]))
                vecs = {it.product_id: d["mac"][j] for j, it in enumerate(good)}
                E._store_chunk(loaded, vecs, set(), embedder.MODEL_VERSION)
                for j, it in enumerate(good):
                    row = k * B + [p.pk for p in chunk].index(it.product_id)
                    for name in NAMES:
                        arrays[name][row] = d[name][j]
                    colours[row] = np.frombuffer(it.colour, "<f2").astype(np.float32) if it.colour else 0
                    ok[row] = True
            if k % 20 == 0:
                done = (k + 1) * B
                rate = done / (time.time() - t0)
                print(f"catalogue {done}/{n} {rate:.1f} img/s eta {(n - done) / rate / 60:.1f} min", flush=True)
    for a in arrays.values():
        a.flush()
    np.save(f"{OUT}/cat_colour.npy", colours)
    np.save(f"{OUT}/cat_ok.npy", ok)
    return ids


def photoset(ids, rows, seed, profile, tag, trim=True):
    names = PP.product_image_names([int(ids[r]) for r in rows])
    kept, pix = [], []
    for r in rows:
        pid = int(ids[r])
        try:
            photo = SP.shopper_photo(pid, PP.storage_read(names[pid]), seed=seed, profile=profile)
            pix.append(decode_photo(photo.data, trim=trim).pixels)
            kept.append(r)
        except Exception as exc:
            print("skip", pid, exc)
    pix = np.stack(pix)
    out = {"rows": np.array(kept)}
    for flip in (False, True):
        p = pix[:, :, ::-1] if flip else pix
        parts = [describe(p[i : i + 64]) for i in range(0, len(p), 64)]
        for name in NAMES:
            out[name + ("_flip" if flip else "")] = np.vstack([q[name] for q in parts])
    out["colour"] = np.stack([query_colour(x) for x in pix])
    out["colour_flip"] = np.stack([query_colour(x[:, ::-1]) for x in pix])
    np.savez(f"{OUT}/photos_{tag}.npz", **out)
    print("photos", tag, len(kept), flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "catalogue":
        catalogue()
    else:
        ids = np.array(list(Product.objects.order_by("pk").values_list("pk", flat=True)), np.int64)
        split = split_of(ids)
        train_rows = PP._chosen(ids, np.flatnonzero(split == "train"), 2000, "training-photo")
        val_rows = PP._chosen(ids, np.flatnonzero(split == "val"), 300, "training-photo")
        eval_rows = PP._chosen(ids, np.flatnonzero(split == "eval"), 300, "")
        if what == "more":
            photoset(ids, val_rows, PP.TRAINING_PHOTO_SEED, SP.STANDARD, "val_std_whole", trim=False)
            photoset(ids, val_rows, PP.TRAINING_PHOTO_SEED, SP.HARD, "val_whole", trim=False)
            photoset(ids, eval_rows, SP.PHOTO_SEED, SP.HARD, "eval_hard_whole", trim=False)
            sys.exit()
        photoset(ids, eval_rows, SP.PHOTO_SEED, SP.STANDARD, "eval_std")
        photoset(ids, eval_rows, SP.PHOTO_SEED, SP.STANDARD, "eval_std_whole", trim=False)
        photoset(ids, eval_rows, SP.PHOTO_SEED, SP.HARD, "eval_hard")
        photoset(ids, val_rows, PP.TRAINING_PHOTO_SEED, SP.HARD, "val")
        photoset(ids, val_rows, PP.TRAINING_PHOTO_SEED, SP.STANDARD, "val_std")
        photoset(ids, train_rows, PP.TRAINING_PHOTO_SEED, SP.HARD, "train")
        photoset(ids, train_rows, PP.TRAINING_PHOTO_SEED + 1, SP.STANDARD, "train_std")
