"""The similarity head: a small model trained on the shop's own catalogue, on top of the
stored ResNet50 vectors (the backbone stays ImageNet's, frozen).

Two parts, both trained here in numpy (no TensorFlow: training runs in a Celery task or a
management command; applying them is a few matrix products in the web process):

* ``Head``: an MLP 2048 → hidden (512, ReLU) → out (128), L2-normalised, trained with a
  cosine-softmax (normalised class weights, a fixed scale) on the article type, with optional
  auxiliary cosine-softmax tasks (gender) on the same embedding. It trains on the vectors'
  top principal components (``pca_basis``, 4× less work) and ``Head.fold`` puts the
  projection back into the first layer. Similar products of the same type end up close; the
  exact product is no longer special (so photo search never uses it: it has its own space,
  ``visualsearch.ml.photo_projection``).
* ``ColourModel``: a softmax (logistic) regression from the colour descriptor
  (``visualsearch.ml.colour``) and the raw vector to probabilities over the catalogue's
  colour names. Its output's dot product is the colour similarity.

``SimilarityModel`` bundles both with the colour weight (and, when training photos were
available, photo search's learned space: ``visualsearch.ml.photo_projection``) and serialises to bytes (``.npz``
without pickle); ``SimilarityModel.similar_vectors`` gives the rows the index ranks
"find similar" by: ``[head embedding, sqrt(weight) × colour probabilities]``, so one dot
product is ``cos(head) + weight × colour similarity``.

Everything takes a ``seed``: the same data and seed give the same model.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from visualsearch.ml.photo_projection import PhotoProjection

EMBEDDING_DIM = 2048


# --- the fixed evaluation split --------------------------------------------------------------


def split_bucket(product_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """A stable bucket 0–99 per product id (sha256 of the id): the same for a product however
    the catalogue grows or is ordered."""
    return np.asarray(
        [
            int.from_bytes(hashlib.sha256(f"lookalike:{int(pid)}".encode()).digest()[:4], "little") % 100
            for pid in product_ids
        ],
        dtype=np.int64,
    )


EVALUATION_BUCKETS = range(0, 10)  # 10 % held out: never trained or tuned on
VALIDATION_BUCKETS = range(10, 20)  # 10 % of the rest: picks hyper-parameters and epochs


def split_of(product_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """'eval', 'val' or 'train' per product id."""
    buckets = split_bucket(product_ids)
    out = np.full(len(buckets), "train", dtype="<U5")
    out[(buckets >= EVALUATION_BUCKETS.start) & (buckets < EVALUATION_BUCKETS.stop)] = "eval"
    out[(buckets >= VALIDATION_BUCKETS.start) & (buckets < VALIDATION_BUCKETS.stop)] = "val"
    return out


# --- helpers ------------------------------------------------------------------------------------


def l2n(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def encode_labels(values: Sequence[str], min_count: int) -> tuple[np.ndarray, list[str]]:
    """Integer codes for values with at least ``min_count`` examples (others and "" → -1)."""
    counts: dict[str, int] = {}
    for v in values:
        if v:
            counts[v] = counts.get(v, 0) + 1
    classes = sorted(v for v, n in counts.items() if n >= min_count)
    code = {v: i for i, v in enumerate(classes)}
    return np.asarray([code.get(v, -1) for v in values], dtype=np.int64), classes


class _Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float, weight_decay: float) -> None:
        self.params, self.lr, self.wd = params, lr, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray], lr: float | None = None) -> None:
        self.t += 1
        lr = self.lr if lr is None else lr
        b1, b2 = 0.9, 0.999
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for k, g in grads.items():
            m, v, p = self.m[k], self.v[k], self.params[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            if self.wd and p.ndim == 2:
                p -= lr * self.wd * p
            p -= lr * (m / c1) / (np.sqrt(v / c2) + 1e-8)


# --- the head -------------------------------------------------------------------------------


@dataclass
class Head:
    """MLP 2048 → hidden → out with L2-normalised output."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @property
    def out_dim(self) -> int:
        return int(self.w2.shape[1])

    def apply(self, vectors: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """(N, 2048) raw vectors → (N, out) unit rows (numpy)."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.w1.shape[0])
        out = np.empty((len(vectors), self.out_dim), dtype=np.float32)
        for s in range(0, len(vectors), chunk):
            h = np.maximum(vectors[s : s + chunk] @ self.w1 + self.b1, 0.0)
            out[s : s + chunk] = l2n(h @ self.w2 + self.b2)
        return out

    def fold(self, mean: np.ndarray, basis: np.ndarray) -> Head:
        """This head, trained on ``(x - mean) @ basis`` inputs, as a head on raw ``x``
        (the projection folded into the first layer: the same cost to apply)."""
        w1 = (basis @ self.w1).astype(np.float32)
        b1 = (self.b1 - (mean @ basis) @ self.w1).astype(np.float32)
        return Head(w1, b1, self.w2.copy(), self.b2.copy())

    def copy(self) -> Head:
        return Head(self.w1.copy(), self.b1.copy(), self.w2.copy(), self.b2.copy())


def pca_basis(x: np.ndarray, dims: int, *, sample: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and the top ``dims`` principal directions (D, dims) of the rows of ``x``:
    training runs on these cheaper inputs, and ``Head.fold`` puts the projection back."""
    x = np.asarray(x, np.float32)
    rows = np.random.default_rng(seed).choice(len(x), size=min(sample, len(x)), replace=False)
    mean = x[rows].mean(axis=0)
    centred = x[rows] - mean
    dims = min(dims, x.shape[1], len(rows))
    if len(rows) < x.shape[1]:  # fewer rows than dimensions: the SVD of the rows is cheaper
        _u, _s, vt = np.linalg.svd(centred, full_matrices=False)
        return mean.astype(np.float32), np.ascontiguousarray(vt[:dims].T, dtype=np.float32)
    cov = centred.T @ centred / max(len(rows) - 1, 1)
    values, vectors = np.linalg.eigh(cov.astype(np.float64))
    order = np.argsort(values)[::-1][:dims]
    return mean.astype(np.float32), np.ascontiguousarray(vectors[:, order], dtype=np.float32)


@dataclass
class HeadParams:
    hidden: int = 512
    out: int = 128
    epochs: int = 40
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    scale: float = 24.0  # cosine-softmax scale (1 / temperature)
    input_dropout: float = 0.2
    aux_weight: float = 0.3  # weight of each auxiliary task's loss
    seed: int = 1  # training seed (the evaluation's shopper photos use another one)
    input_dims: int = 512  # training inputs: the raw vectors' top principal components


def train_head(
    x: np.ndarray,
    main_labels: np.ndarray,
    aux_labels: Sequence[np.ndarray] = (),
    params: HeadParams | None = None,
    on_epoch: Callable[[int, Head], bool | None] | None = None,
) -> Head:
    """Train the head on raw vectors ``x`` (N, 2048) and class codes (-1 = unlabelled, no loss).

    ``on_epoch(epoch, head)`` is called after each epoch; returning True stops training.
    """
    p = params or HeadParams()
    rng = np.random.default_rng(p.seed)
    x = np.ascontiguousarray(x, dtype=np.float32)
    d = x.shape[1]
    tasks = [(np.asarray(main_labels), 1.0), *((np.asarray(a), p.aux_weight) for a in aux_labels)]
    params_: dict[str, np.ndarray] = {
        "w1": (rng.standard_normal((d, p.hidden)) * np.sqrt(2.0 / d)).astype(np.float32),
        "b1": np.zeros(p.hidden, np.float32),
        "w2": (rng.standard_normal((p.hidden, p.out)) * np.sqrt(1.0 / p.hidden)).astype(np.float32),
        "b2": np.zeros(p.out, np.float32),
    }
    for t, (labels, _w) in enumerate(tasks):
        n_classes = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 1
        params_[f"c{t}"] = rng.standard_normal((n_classes, p.out)).astype(np.float32)
    opt = _Adam(params_, p.lr, p.weight_decay)
    rows = np.flatnonzero(tasks[0][0] >= 0)
    steps_per_epoch = max(1, int(np.ceil(len(rows) / p.batch)))
    total_steps = steps_per_epoch * p.epochs
    step = 0
    head = Head(params_["w1"], params_["b1"], params_["w2"], params_["b2"])
    for epoch in range(p.epochs):
        order = rng.permutation(rows)
        for s in range(0, len(order), p.batch):
            idx = order[s : s + p.batch]
            xb = x[idx]
            if p.input_dropout > 0:
                keep = (rng.random(xb.shape, dtype=np.float32) >= p.input_dropout).astype(np.float32)
                xb = xb * keep / (1.0 - p.input_dropout)
            a1 = xb @ params_["w1"] + params_["b1"]
            h = np.maximum(a1, 0.0)
            z = h @ params_["w2"] + params_["b2"]
            n = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            e = z / n
            de = np.zeros_like(e)
            grads: dict[str, np.ndarray] = {}
            for t, (labels, weight) in enumerate(tasks):
                yb = labels[idx]
                ok = yb >= 0
                c = params_[f"c{t}"]
                cn_norm = np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
                cn = c / cn_norm
                if not ok.any():
                    grads[f"c{t}"] = np.zeros_like(c)
                    continue
                logits = p.scale * (e[ok] @ cn.T)
                prob = _softmax(logits)
                prob[np.arange(int(ok.sum())), yb[ok]] -= 1.0
                dlogits = prob * (weight / len(idx))
                de[ok] += p.scale * dlogits @ cn
                dcn = p.scale * dlogits.T @ e[ok]
                grads[f"c{t}"] = (dcn - cn * np.sum(dcn * cn, axis=1, keepdims=True)) / cn_norm
            dz = (de - e * np.sum(de * e, axis=1, keepdims=True)) / n
            grads["w2"] = h.T @ dz
            grads["b2"] = dz.sum(axis=0)
            da1 = (dz @ params_["w2"].T) * (a1 > 0)
            grads["w1"] = xb.T @ da1
            grads["b1"] = da1.sum(axis=0)
            # Cosine decay of the learning rate.
            lr = p.lr * 0.5 * (1 + np.cos(np.pi * step / max(total_steps, 1)))
            opt.step(grads, lr=float(lr))
            step += 1
        if on_epoch is not None and on_epoch(epoch + 1, head):
            break
    return Head(params_["w1"].copy(), params_["b1"].copy(), params_["w2"].copy(), params_["b2"].copy())


# --- the colour model ----------------------------------------------------------------------------


@dataclass
class ColourModel:
    """Softmax regression: [colour descriptor, raw vector] → colour-name probabilities."""

    w: np.ndarray  # (in, classes)
    b: np.ndarray
    classes: list[str]
    vector_weight: float  # how much of the raw vector goes into the input

    def features(self, colours: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        return np.hstack([np.asarray(colours, np.float32), self.vector_weight * np.asarray(vectors, np.float32)])

    def probabilities(self, colours: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        return _softmax(self.features(colours, vectors) @ self.w + self.b).astype(np.float32)


def train_colour_model(
    colours: np.ndarray,
    vectors: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    *,
    vector_weight: float = 1.0,
    epochs: int = 15,
    lr: float = 5e-3,
    weight_decay: float = 1e-4,
    seed: int = 1,
) -> ColourModel:
    rng = np.random.default_rng(seed)
    model = ColourModel(np.zeros((0, 0), np.float32), np.zeros(0, np.float32), classes, vector_weight)
    x = model.features(colours, vectors)
    params = {"w": np.zeros((x.shape[1], len(classes)), np.float32), "b": np.zeros(len(classes), np.float32)}
    opt = _Adam(params, lr, weight_decay)
    rows = np.flatnonzero(labels >= 0)
    for _epoch in range(epochs):
        order = rng.permutation(rows)
        for s in range(0, len(order), 256):
            idx = order[s : s + 256]
            prob = _softmax(x[idx] @ params["w"] + params["b"])
            prob[np.arange(len(idx)), labels[idx]] -= 1.0
            prob /= len(idx)
            opt.step({"w": x[idx].T @ prob, "b": prob.sum(axis=0)})
    return ColourModel(params["w"], params["b"], classes, vector_weight)


# --- the bundle -------------------------------------------------------------------------------


@dataclass
class SimilarityModel:
    """What the index applies: the head, the colour model, and the colour weight."""

    head: Head
    colour: ColourModel | None
    colour_weight: float
    info: dict = field(default_factory=dict)
    # Photo search's learned space (None: photo search ranks by the raw vectors).
    photo: PhotoProjection | None = None

    @property
    def dims(self) -> int:
        return self.head.out_dim + (len(self.colour.classes) if self.colour is not None else 0)

    @property
    def nbytes(self) -> int:
        """Memory of the weights."""
        arrays = [self.head.w1, self.head.b1, self.head.w2, self.head.b2]
        if self.colour is not None:
            arrays += [self.colour.w, self.colour.b]
        if self.photo is not None:
            arrays += [self.photo.mean, self.photo.matrix]
        return int(sum(a.nbytes for a in arrays))

    def similar_vectors(self, vectors: np.ndarray, colours: np.ndarray | None) -> np.ndarray:
        """Rows ranked by one dot product: [head, sqrt(w) × colour probabilities].

        ``colours`` may hold NaN rows (no stored descriptor): their colour part is zero.
        """
        embedded = self.head.apply(vectors)
        if self.colour is None:
            return embedded
        n = len(embedded)
        part = np.zeros((n, len(self.colour.classes)), np.float32)
        if colours is not None:
            colours = np.asarray(colours, np.float32)
            known = np.isfinite(colours).all(axis=1)
            if known.any():
                part[known] = self.colour.probabilities(colours[known], np.asarray(vectors, np.float32)[known])
        return np.hstack([embedded, np.sqrt(self.colour_weight) * part]).astype(np.float32)

    def to_bytes(self) -> bytes:
        arrays = {"w1": self.head.w1, "b1": self.head.b1, "w2": self.head.w2, "b2": self.head.b2}
        meta = {"colour_weight": self.colour_weight, "info": self.info, "format": 1}
        if self.colour is not None:
            arrays.update(cw=self.colour.w, cb=self.colour.b)
            meta.update(colour_classes=self.colour.classes, colour_vector_weight=self.colour.vector_weight)
        if self.photo is not None:
            arrays.update(photo_mean=self.photo.mean, photo_matrix=self.photo.matrix)
            meta.update(photo_colour_weight=self.photo.colour_weight, photo_shrinkage=self.photo.shrinkage)
        buffer = io.BytesIO()
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: keyword arrays are fine
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> SimilarityModel:
        with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            head = Head(*(z[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2")))
            colour = None
            if "cw" in z.files:
                colour = ColourModel(
                    z["cw"].astype(np.float32),
                    z["cb"].astype(np.float32),
                    list(meta["colour_classes"]),
                    float(meta["colour_vector_weight"]),
                )
            photo = None
            if "photo_matrix" in z.files:
                photo = PhotoProjection(
                    z["photo_mean"].astype(np.float32),
                    np.ascontiguousarray(z["photo_matrix"], dtype=np.float32),
                    float(meta["photo_colour_weight"]),
                    float(meta["photo_shrinkage"]),
                )
        return cls(head, colour, float(meta["colour_weight"]), meta.get("info", {}), photo)


# --- ranking helpers shared by training, evaluation and tests -----------------------------------


def knn_rows(matrix: np.ndarray, queries: np.ndarray, k: int, exclude_self: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``matrix`` with the k best dot products per query row (best first);
    ``exclude_self[i]`` is a row never returned for query i (-1: none)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 1024):
        scores = queries[s : s + 1024] @ matrix.T
        if exclude_self is not None:
            ex = exclude_self[s : s + 1024]
            valid = ex >= 0
            scores[np.flatnonzero(valid), ex[valid]] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        part = np.take_along_axis(scores, top, axis=1)
        out[s : s + 1024] = np.take_along_axis(top, np.argsort(-part, axis=1, kind="stable"), axis=1)
    return out


def precision_at(labels: np.ndarray, query_rows: np.ndarray, found: np.ndarray, k: int) -> float:
    """Mean share of the first k found rows with the query's label."""
    return float(np.mean(labels[found[:, :k]] == labels[query_rows][:, None]))
