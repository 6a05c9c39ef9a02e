"""Photo search descriptors, offline: exact self@1 / self@5 of the held-out shopper photos over
the whole catalogue for each pooling (and concatenations, e.g. ``mac+mac4``), raw and in a
learned space fitted on training photos and chosen on validation photos (``VALONLY=1``: the
validation figures only). Reads what ``photo_descriptors_embed.py`` saved (EXP_DATA).

    python lab/experiments/photo_descriptors_analyse.py mac mac+mac4 rmac+mac4:train,train_std
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())
from visualsearch.ml.head import split_of
from visualsearch.ml.photo_projection import LearnedWhitening, self_ranks

D = os.environ.get("EXP_DATA", "var/experiments/photo_descriptors")

DIMS = tuple(int(x) for x in os.environ.get("DIMS", "256").split(","))
ids = np.load(f"{D}/ids.npy")
split = split_of(ids)
pool = np.flatnonzero(split != "eval")
spread_rows = np.flatnonzero(split == "train")
ccol = np.load(f"{D}/cat_colour.npy")

P = {
    t: dict(np.load(f"{D}/photos_{t}.npz"))
    for t in [
        "eval_std",
        "eval_std_whole",
        "eval_hard",
        "eval_hard_whole",
        "val",
        "val_whole",
        "val_std",
        "val_std_whole",
        "train",
        "train_std",
    ]
    if os.path.exists(f"{D}/photos_{t}.npz")
}
pos_in_pool = {r: i for i, r in enumerate(pool)}


def l2(x):
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def feats(name, src):
    parts = name.split("+")
    return l2(np.hstack([src[p] if isinstance(src, dict) else src(p) for p in parts]))


cache = {}


def cat(name):
    if name not in cache:
        cache[name] = l2(np.hstack([np.load(f"{D}/cat_{p}.npy").astype(np.float32) for p in name.split("+")]))
    return cache[name]


def photo(t, name, flip=False):
    s = "_flip" if flip else ""
    return l2(np.hstack([P[t][p + s] for p in name.split("+")]))


def fig(r):
    return f"{(r == 0).mean():.3f}/{(r < 5).mean():.3f}"


def ranks_flipmax(q, qf, space, true, qc, qcf, cc, w):
    out = np.empty(len(q), np.int64)
    for s in range(0, len(q), 100):
        a = q[s : s + 100] @ space.T + w * (qc[s : s + 100] @ cc.T)
        b = qf[s : s + 100] @ space.T + w * (qcf[s : s + 100] @ cc.T)
        m = np.maximum(a, b)
        t = true[s : s + 100]
        own = m[np.arange(len(t)), t]
        out[s : s + 100] = (m > own[:, None]).sum(1)
    return out


def run(name, train_sets=("train",), shrinks=(0.3, 1, 3), dims_list=DIMS, weights=(0.1, 0.2, 0.3)):
    t0 = time.time()
    C = cat(name)
    line = [name, "+".join(train_sets)]
    for t in ["eval_std", "eval_hard"]:
        r = self_ranks(
            photo(t, name), C, P[t]["rows"], query_colours=P[t]["colour"], catalogue_colours=ccol, colour_weight=0.1
        )
        line.append(f"raw+c {t} {fig(r)}")
    sl = {"train": slice(None), "train_std": slice(None), "trainA": slice(0, 1000), "trainB": slice(1000, 2000)}
    src = {"trainA": "train", "trainB": "train_std"}
    tq = np.vstack([photo(src.get(t, t), name)[sl[t]] for t in train_sets])
    trows = np.concatenate([P[src.get(t, t)]["rows"][sl[t]] for t in train_sets])
    fit = LearnedWhitening(tq, C[trows], C[spread_rows])
    vtrue = np.array([pos_in_pool[r] for r in P["val"]["rows"]])
    best = (-1, None)
    for sh in shrinks:
        for dm in dims_list:
            pr = fit.projection(shrinkage=sh, dims=dm)
            sp = pr.apply(C[pool])
            vq = pr.apply(photo("val", name))
            for w in weights:
                r = self_ranks(
                    vq, sp, vtrue, query_colours=P["val"]["colour"], catalogue_colours=ccol[pool], colour_weight=w
                )
                sc = (r == 0).mean() + (r < 5).mean()
                if sc > best[0]:
                    best = (sc, (sh, dm, w, pr))
    sh, dm, w, pr = best[1]
    line.append(f"chose {sh}/{dm}/{w} val {best[0]:.3f}")
    S = pr.apply(C)

    def multi(variants):
        qs = [pr.apply(photo(t, name, f)) for t, f in variants]
        cs = [P[t]["colour_flip" if f else "colour"] for t, f in variants]
        true = P[variants[0][0]]["rows"]
        out = np.empty(len(true), np.int64)
        for s0 in range(0, len(true), 100):
            m = None
            for q, c in zip(qs, cs, strict=False):
                a = q[s0 : s0 + 100] @ S.T + w * (c[s0 : s0 + 100] @ ccol.T)
                m = a if m is None else np.maximum(m, a)
            tt = true[s0 : s0 + 100]
            own = m[np.arange(len(tt)), tt]
            out[s0 : s0 + 100] = (m > own[:, None]).sum(1)
        return fig(out)

    if os.environ.get("VALONLY"):
        for vt in ("val", "val_std"):
            vtr = np.array([pos_in_pool[r] for r in P[vt]["rows"]])
            r = self_ranks(
                pr.apply(photo(vt, name)),
                S[pool],
                vtr,
                query_colours=P[vt]["colour"],
                catalogue_colours=ccol[pool],
                colour_weight=w,
            )
            line.append(f"{vt} {fig(r)}")
        print(" | ".join(line), flush=True)
        return
    T, W = "eval_std", "eval_std_whole"
    line.append(
        "std trim "
        + multi([(T, False)])
        + " whole "
        + multi([(W, False)])
        + " trim+flip "
        + multi([(T, False), (T, True)])
        + " whole+flip "
        + multi([(W, False), (W, True)])
        + " trim+whole "
        + multi([(T, False), (W, False)])
        + " all4 "
        + multi([(T, False), (T, True), (W, False), (W, True)])
    )
    line.append(
        "hard " + multi([("eval_hard", False)]) + " +flip " + multi([("eval_hard", False), ("eval_hard", True)])
    )
    print(" | ".join(line), f"({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    for spec in sys.argv[1:]:
        name, _, train = spec.partition(":")
        run(name, tuple(train.split(",")) if train else ("train",))
