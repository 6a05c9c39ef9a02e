# ruff: noqa: E402  (a research script: Django / the path are set up before the project's imports)
"""Photo search's query inputs, offline: the trimmed region, the whole photo, their mirror
images and combinations (each product scored by its best input), in a learned space per
descriptor; shrinkage and colour weight chosen on the validation photos (hard + standard),
then the held-out figures of that choice.

    PYTHONPATH=lab/experiments python lab/experiments/photo_descriptors_variants.py \
        mac:trainA,trainB mac+mac4:trainA,trainB
"""

import sys

import numpy as np

sys.argv, args = sys.argv[:1], sys.argv[1:]
import photo_descriptors_analyse as A

from visualsearch.ml.photo_projection import LearnedWhitening


def go(name, train_sets, dims=256):
    C = A.cat(name)
    sl = {"train": slice(None), "train_std": slice(None), "trainA": slice(0, 1000), "trainB": slice(1000, 2000)}
    src = {"trainA": "train", "trainB": "train_std"}
    tq = np.vstack([A.photo(src.get(t, t), name)[sl[t]] for t in train_sets])
    trows = np.concatenate([A.P[src.get(t, t)]["rows"][sl[t]] for t in train_sets])
    fit = LearnedWhitening(tq, C[trows], C[A.spread_rows])
    res = []
    for sh in (0.3, 1, 3):
        pr = fit.projection(shrinkage=sh, dims=dims)
        S = pr.apply(C)
        for gallery, sets in (("pool", ("val", "val_std")), ("all", ("eval_std", "eval_hard"))):
            rows_g = A.pool if gallery == "pool" else np.arange(len(C))
            Sg = S[rows_g]
            cg = A.ccol[rows_g]
            pos = {r: i for i, r in enumerate(rows_g)}
            for base in sets:
                whole = {
                    "val": "val_whole",
                    "val_std": "val_std_whole",
                    "eval_std": "eval_std_whole",
                    "eval_hard": "eval_hard_whole",
                }[base]
                true = np.array([pos[r] for r in A.P[base]["rows"]])
                for w in (0.1, 0.2, 0.3):
                    for label, variants in (
                        ("trim", [(base, False)]),
                        ("whole", [(whole, False)]),
                        ("trim+whole", [(base, False), (whole, False)]),
                        ("trim+flip", [(base, False), (base, True)]),
                        ("all4", [(base, False), (base, True), (whole, False), (whole, True)]),
                    ):
                        qs = [pr.apply(A.photo(t, name, f)) for t, f in variants]
                        cs = [A.P[t]["colour_flip" if f else "colour"] for t, f in variants]
                        m = None
                        for q, c in zip(qs, cs, strict=False):
                            a = q @ Sg.T + w * (c @ cg.T)
                            m = a if m is None else np.maximum(m, a)
                        own = m[np.arange(len(true)), true]
                        r = (m > own[:, None]).sum(1)
                        res.append((name, "+".join(train_sets), sh, w, base, label, (r == 0).mean(), (r < 5).mean()))
    return res


from collections import defaultdict

rows = []
for spec in args:
    n, _, t = spec.partition(":")
    rows += go(n, tuple(t.split(",")))

pass
val = defaultdict(list)
for d, tr, sh, w, st, v, s1, s5 in rows:
    if st in ("val", "val_std"):
        val[(d, tr, v, sh, w)].append(s1 + s5)
best = {}
for (d, tr, v, sh, w), sc in val.items():
    k = (d, tr, v)
    m = sum(sc) / len(sc)
    if k not in best or m > best[k][0]:
        best[k] = (m, sh, w)
for (d, tr, v), (_m, sh, w) in best.items():
    sel = [r for r in rows if r[:3] == (d, tr, sh) and r[3] == w and r[5] == v]
    print(d, tr, v, f"sh {sh} w {w}", " ".join(f"{r[4]} {r[6]:.3f}/{r[7]:.3f}" for r in sel), flush=True)
