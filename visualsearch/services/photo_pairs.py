"""Photo-like copies of catalogue products, embedded as photo search embeds an upload: what
photo search's learned space (``visualsearch.ml.photo_projection``) is trained, tuned and
measured on.

* training photos: products of the training split, half of them in the harder photo
  profile (``shopper_photos.HARD``, generator seed TRAINING_PHOTO_SEED), half in the standard
  one (seed TRAINING_PHOTO_SEED + 1): on the validation photos the mix ranked standard
  photos better and hard ones as well as HARD alone (docs/relevance.md);
* scene photos (``HEAD_PHOTO_SCENES`` more training products, ``HEAD_PHOTO_VALIDATION_SCENES``
  more validation ones): the product cut out of its backdrop and lying small in a generated
  scene (``visualsearch.ml.scenes``: the TRAINING backgrounds and a training seed, never the
  evaluation's), with a distractor, turned, re-lit, blurred, JPEG; the item's own box cut from
  the scene as photo search cuts a detected item (``region_inputs``): what a real photo's item
  looks like to the model;
* validation photos: products of the validation split, the same seed and profile, and their
  scene photos; they pick the shrinkage, the dimensions and the colour weight;
* evaluation photos: the evaluation's own fixed set (``PHOTO_SEED``, held-out products,
  both profiles), only measured, never tuned on; embedded as photo search embeds an upload,
  the whole photo too where the default box trimmed it.

Each photo goes through ``visualsearch.query.photo.decode_photo`` (the default region, borders
trimmed) and the real model, exactly as an upload does. A product whose image cannot be
read is skipped (and counted): one bad file never stops a training.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from django.core.files.storage import default_storage

from core.images import ImageRejected
from shop.models import Product
from visualsearch.ml import shopper_photos
from visualsearch.ml.head import split_of

logger = logging.getLogger(__name__)

# Not the evaluation's PHOTO_SEED: no training photo is ever one of the evaluation's.
TRAINING_PHOTO_SEED = 7
# Scene photos: not scenes.EVALUATION_SEED (evaluate's real-photo scenes) nor the localiser's.
SCENE_PHOTO_SEED = 41
_BATCH = 64


@dataclass
class EmbeddedPhotoSet:
    """Photos of catalogue products: the row of each photographed product in the catalogue
    arrays it was made for, the photo's raw vector and its colour descriptor."""

    rows: np.ndarray
    vectors: np.ndarray
    colours: np.ndarray
    skipped: int = 0
    seconds: float = 0.0
    # The whole photo's vector and colour, row for row (the same as ``vectors`` where the
    # default box kept the whole photo): photo search scores by the better of the two
    # (``DecodedPhoto.model_inputs``). Only for photos measured as the site searches them.
    whole_vectors: np.ndarray | None = None
    whole_colours: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def variants(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(vectors, colours) of each variant photo search embeds: the searched region, then
        the whole photo when these photos have it."""
        out = [(self.vectors, self.colours)]
        if self.whole_vectors is not None and self.whole_colours is not None:
            out.append((self.whole_vectors, self.whole_colours))
        return out

    def query(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Photo ``index`` as photo search's query: its vectors and colours, one row per variant."""
        variants = self.variants()
        return np.stack([v[index] for v, _ in variants]), np.stack([c[index] for _, c in variants])

    @classmethod
    def joined(cls, parts: Sequence[EmbeddedPhotoSet]) -> EmbeddedPhotoSet:
        """Several sets as one (their rows, vectors and colours in turn; no whole photos)."""
        return cls(
            np.concatenate([p.rows for p in parts]),
            np.vstack([p.vectors for p in parts]),
            np.vstack([p.colours for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0].colours,
            sum(p.skipped for p in parts),
            sum(p.seconds for p in parts),
        )


@dataclass
class PhotoPairs:
    """What photo search's learned space is fitted and chosen on."""

    train: EmbeddedPhotoSet
    validation: EmbeddedPhotoSet
    evaluation: dict[str, EmbeddedPhotoSet] = field(default_factory=dict)  # profile name → photos


def product_image_names(product_ids: Sequence[int]) -> dict[int, str]:
    """The storage names of these products' images (products without one are left out)."""
    rows = Product.objects.filter(pk__in=[int(p) for p in product_ids]).values_list("pk", "image")
    return {int(pk): str(name) for pk, name in rows if name}


def storage_read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _chosen(ids: np.ndarray, rows: np.ndarray, count: int, salt: str) -> list[int]:
    """``count`` of ``rows`` in a fixed order (sha256 of the product id with ``salt``):
    the same products however the catalogue grows around them."""
    order = shopper_photos.photo_order([int(ids[r]) for r in rows], salt=salt)
    row_of = {int(ids[r]): int(r) for r in rows}
    return [row_of[pid] for pid in order[: max(0, count)]]


@dataclass
class _Prepared:
    rows: list[int] = field(default_factory=list)
    pixels: list[np.ndarray] = field(default_factory=list)
    wholes: list[np.ndarray | None] = field(default_factory=list)  # None: the region is the whole photo
    skipped: int = 0


def photos_embed(
    ids: np.ndarray,
    rows: Sequence[int],
    *,
    seed: int,
    profile: shopper_photos.PhotoProfile,
    on_progress: Callable[[str], None] = lambda message: None,
    label: str = "photos",
    whole: bool = False,
    scenes: bool = False,
) -> EmbeddedPhotoSet:
    """One shopper-like photo of each product at ``rows`` (of the catalogue ``ids``), decoded
    and embedded as an upload is (``whole``: the whole photo too, as photo search embeds
    it; the learned space itself is fitted on the searched regions). ``scenes``: a scene photo
    of each instead (the module's docstring; ``profile`` unused). The next batch's photos are
    made (storage, Pillow) in a thread while the model embeds the current one."""
    from visualsearch.ml import embedder
    from visualsearch.query.errors import UploadRejected
    from visualsearch.query.photo import decode_photo, query_colour

    def scene_item(pid: int, data: bytes) -> np.ndarray:
        """The product lying in a scene of its own, its box cut as photo search cuts an item."""
        from PIL import Image

        from visualsearch.ml.scenes import TRAINING, make_scene, scene_rng
        from visualsearch.query.photo import decoded_upload, region_inputs

        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        scene = make_scene([(pid, image)], scene_rng(seed, pid), TRAINING, distractors=(1, 1))
        photo = scene.jpeg(quality=92)
        return region_inputs(photo, decoded_upload(photo), [scene.items[0].box])[0]

    names = product_image_names([int(ids[r]) for r in rows])

    def prepare(batch: Sequence[int]) -> _Prepared:
        out = _Prepared()
        for row in batch:
            pid = int(ids[row])
            try:
                name = names.get(pid)
                if name is None:
                    raise FileNotFoundError(f"product {pid} has no image")
                if scenes:
                    out.pixels.append(scene_item(pid, storage_read(name)))
                    out.wholes.append(None)
                else:
                    photo = shopper_photos.shopper_photo(pid, storage_read(name), seed=seed, profile=profile)
                    decoded = decode_photo(photo.data)
                    out.pixels.append(decoded.pixels)
                    out.wholes.append(decoded.whole)
            except (OSError, ValueError, ImageRejected, UploadRejected) as exc:
                out.skipped += 1
                logger.warning("%s: product %s skipped (%s)", label, pid, exc)
                continue
            out.rows.append(int(row))
        return out

    kept: list[int] = []
    vectors: list[np.ndarray] = []
    colours: list[np.ndarray] = []
    whole_vectors: list[np.ndarray] = []
    whole_colours: list[np.ndarray] = []
    skipped = 0
    started = time.perf_counter()
    batches = [rows[start : start + _BATCH] for start in range(0, len(rows), _BATCH)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepare, batches[0]) if batches else None
        for number, _batch in enumerate(batches):
            assert pending is not None
            prepared = pending.result()
            pending = pool.submit(prepare, batches[number + 1]) if number + 1 < len(batches) else None
            skipped += prepared.skipped
            kept.extend(prepared.rows)
            if prepared.pixels:
                batch = np.stack(prepared.pixels)
                vectors.append(embedder.embed_batch(batch))
                colours.append(query_colour(batch))
                if whole:
                    # Only the photos whose searched region was trimmed need the model again.
                    found = [(i, w) for i, w in enumerate(prepared.wholes) if w is not None]
                    trimmed = [i for i, _ in found]
                    extra, extra_colours = vectors[-1].copy(), colours[-1].copy()
                    if found:
                        wholes = np.stack([w for _, w in found])
                        extra[trimmed] = embedder.embed_batch(wholes)
                        extra_colours[trimmed] = query_colour(wholes)
                    whole_vectors.append(extra)
                    whole_colours.append(extra_colours)
            on_progress(f"{label}: {min((number + 1) * _BATCH, len(rows))}/{len(rows)} embedded")
    dim = embedder.EMBEDDING_DIM
    return EmbeddedPhotoSet(
        np.asarray(kept, np.int64),
        np.vstack(vectors) if vectors else np.zeros((0, dim), np.float32),
        np.vstack(colours) if colours else np.zeros((0, 0), np.float32),
        skipped,
        time.perf_counter() - started,
        (np.vstack(whole_vectors) if whole_vectors else np.zeros((0, dim), np.float32)) if whole else None,
        (np.vstack(whole_colours) if whole_colours else np.zeros((0, 0), np.float32)) if whole else None,
    )


def photo_pairs_embed(
    ids: np.ndarray,
    *,
    train: int,
    validation: int,
    evaluation: int,
    scenes: int = 0,
    validation_scenes: int = 0,
    on_progress: Callable[[str], None] = lambda message: None,
) -> PhotoPairs:
    """Training, validation and evaluation photos for the catalogue ``ids`` (see the module):
    ``scenes``/``validation_scenes`` scene photos of further training/validation products."""
    split = split_of(ids)
    train_rows = _chosen(ids, np.flatnonzero(split == "train"), train + scenes, "training-photo")
    validation_rows = _chosen(ids, np.flatnonzero(split == "val"), validation + validation_scenes, "training-photo")
    train_rows, scene_rows = train_rows[:train], train_rows[train:]
    validation_rows, validation_scene_rows = validation_rows[:validation], validation_rows[validation:]
    half = len(train_rows) // 2

    def scene_photos(rows: list[int], label: str) -> list[EmbeddedPhotoSet]:
        if not rows:
            return []
        return [
            photos_embed(
                ids,
                rows,
                seed=SCENE_PHOTO_SEED,
                profile=shopper_photos.STANDARD,
                label=label,
                on_progress=on_progress,
                scenes=True,
            )
        ]

    pairs = PhotoPairs(
        EmbeddedPhotoSet.joined(
            [
                photos_embed(
                    ids,
                    part,
                    seed=TRAINING_PHOTO_SEED + offset,
                    profile=profile,
                    label=f"training photos ({profile.name})",
                    on_progress=on_progress,
                )
                for offset, (profile, part) in enumerate(
                    ((shopper_photos.HARD, train_rows[:half]), (shopper_photos.STANDARD, train_rows[half:]))
                )
            ]
            + scene_photos(scene_rows, "training photos (scenes)")
        ),
        EmbeddedPhotoSet.joined(
            [
                photos_embed(
                    ids,
                    validation_rows,
                    seed=TRAINING_PHOTO_SEED,
                    profile=shopper_photos.HARD,
                    label="validation photos",
                    on_progress=on_progress,
                ),
                *scene_photos(validation_scene_rows, "validation photos (scenes)"),
            ]
        ),
    )
    if evaluation > 0:
        for profile in (shopper_photos.STANDARD, shopper_photos.HARD):
            pairs.evaluation[profile.name] = evaluation_photos_embed(
                ids, evaluation, profile=profile, on_progress=on_progress
            )
    return pairs


def evaluation_photos_embed(
    ids: np.ndarray,
    count: int,
    *,
    profile: shopper_photos.PhotoProfile,
    on_progress: Callable[[str], None] = lambda message: None,
) -> EmbeddedPhotoSet:
    """The evaluation's fixed shopper photos (``PHOTO_SEED``) of ``count`` held-out products
    of the catalogue ``ids``, in the given strength: what ``train_head`` stores with a head
    and what ``evaluate`` searches."""
    held_out = np.flatnonzero(split_of(ids) == "eval")
    return photos_embed(
        ids,
        _chosen(ids, held_out, count, ""),
        seed=shopper_photos.PHOTO_SEED,
        profile=profile,
        label=f"evaluation photos ({profile.name})",
        on_progress=on_progress,
        whole=True,
    )
