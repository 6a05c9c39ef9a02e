"""Photo search's learned space, trained with the similarity head: chosen on validation
photos and kept only when it helps, served by the index (which searches in it), used by
photo search's ranking, gone with a rollback; and the training photos themselves, made
from real catalogue images through the real model, never of held-out products.

The head tests' synthetic catalogue (test_heads.py) stands in for the stored vectors; its
"photos" move each product along a few shared directions (a crop, the light, a
background), far enough that the raw vectors often lose the exact product.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from visualsearch.conf import vs_settings
from visualsearch.index import get_index
from visualsearch.ml import head as head_mod
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import SimilarityHead
from visualsearch.query.ranking import rank_photo, raw_photo_score
from visualsearch.services import head_figures, head_training, heads, photo_pairs
from visualsearch.services.photo_pairs import EmbeddedPhotoSet, PhotoPairs
from visualsearch.tests.services.test_heads import FAST, make_catalogue
from visualsearch.tests.services.test_heads import quick_training as quick_training  # the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def synthetic_photos(data: head_figures.HeadData, rows: np.ndarray, *, strength: float, seed: int) -> EmbeddedPhotoSet:
    rng = np.random.default_rng(seed)
    nuisance = np.random.default_rng(99).standard_normal((10, data.vectors.shape[1]))  # the same for every set
    shift = strength * rng.standard_normal((len(rows), 10)) @ nuisance
    moved = data.vectors[rows] * np.sqrt(data.vectors.shape[1]) + shift
    colours = np.nan_to_num(data.colours[rows])
    return EmbeddedPhotoSet(rows.astype(np.int64), head_mod.l2n(moved), colours.astype(np.float32))


def synthetic_pairs(data: head_figures.HeadData, *, strength: float = 3.0, train: int = 400) -> PhotoPairs:
    split = head_mod.split_of(data.ids)
    rows = {name: np.flatnonzero(split == name) for name in ("train", "val", "eval")}
    return PhotoPairs(
        synthetic_photos(data, rows["train"][:train], strength=strength, seed=1),
        synthetic_photos(data, rows["val"], strength=strength, seed=2),
        {"standard": synthetic_photos(data, rows["eval"], strength=strength, seed=3)},
    )


@pytest.fixture
def photo_training(quick_training):
    quick_training.VISUALSEARCH_HEAD_PHOTO_MIN_PAIRS = 100
    quick_training.VISUALSEARCH_HEAD_PHOTO_SHRINKAGE = (0.05, 0.3)
    quick_training.VISUALSEARCH_HEAD_PHOTO_DIMS = (600,)  # the synthetic products differ in many directions
    quick_training.VISUALSEARCH_HEAD_PHOTO_COLOUR_WEIGHTS = (0.0, 0.1)
    return quick_training


def test_the_learned_space_is_trained_served_and_ranks_photo_search(photo_training, admin_client) -> None:
    make_catalogue(700)
    data = head_figures.head_data_load()
    pairs = synthetic_pairs(data)
    result = head_training.head_train(params=FAST, photos=pairs)
    model = head_mod.SimilarityModel.from_bytes(result.head.weights)
    assert model.photo is not None and model.photo.dims == 600
    assert result.head.params["photo_space"].startswith("shrinkage ")
    figures = result.head.metrics["photos"]["standard"]
    # Held-out photos (never trained or tuned on): the learned space finds what raw misses.
    assert figures["head"]["self_at_1"] >= 0.9 and figures["head"]["self_at_1"] > figures["raw"]["self_at_1"] + 0.1
    assert figures["raw"]["photos"] == len(pairs.evaluation["standard"])

    index = get_index()
    assert index.photo_projection is not None and index.dims == 600
    assert index.model_version == f"{MODEL_VERSION}+head-v{result.head.pk}"
    held_out = pairs.evaluation["standard"]
    projection = model.photo
    space = projection.apply(data.vectors)
    colours = np.nan_to_num(data.colours)
    weight = float(vs_settings.PHOTO_COLOUR_WEIGHT)
    for vector, colour in list(zip(held_out.vectors, held_out.colours, strict=True))[:15]:
        hits = rank_photo(index, vector, colour, 5, {})
        expected = space @ projection.apply(vector[None])[0] + projection.colour_weight * (colours @ colour)
        assert [h.product_id for h in hits] == [int(data.ids[r]) for r in np.argsort(-expected)[:5]]
        # "Nothing close" keeps its calibration: the raw score of the best match.
        best = int(np.flatnonzero(data.ids == hits[0].product_id)[0])
        raw_score = raw_photo_score(vector, colour, hits[0].product_id)
        expected_raw = float(data.vectors[best] @ vector + weight * (colours[best] @ colour))
        assert raw_score == pytest.approx(expected_raw, abs=1e-4)
    photos = zip(held_out.vectors, held_out.colours, strict=True)
    found = np.asarray([rank_photo(index, v, c, 1, {})[0].product_id for v, c in photos])
    assert np.mean(found == data.ids[held_out.rows]) == pytest.approx(figures["head"]["self_at_1"], abs=0.02)

    page = admin_client.get(reverse("admin:visualsearch_similarityhead_changelist")).content.decode()
    assert "Photo self@1" in page and f"{figures['head']['self_at_1']:.3f}" in page
    assert f"the learned photo space of head-v{result.head.pk}" in page

    heads.head_rollback()  # back to the raw vectors: photo search too
    assert index.photo_projection is None
    hits = rank_photo(index, held_out.vectors[0], held_out.colours[0], 5, {})
    raw = data.vectors @ held_out.vectors[0] + weight * (colours @ held_out.colours[0])
    assert [h.product_id for h in hits] == [int(data.ids[r]) for r in np.argsort(-raw)[:5]]


def test_the_learned_space_is_left_out_when_the_raw_vectors_do_as_well(photo_training) -> None:
    make_catalogue(700)
    data = head_figures.head_data_load()
    result = head_training.head_train(
        params=FAST, photos=synthetic_pairs(data, strength=0.0)
    )  # photos = catalogue images
    assert head_mod.SimilarityModel.from_bytes(result.head.weights).photo is None
    assert result.head.params["photo_space"].startswith("not used")
    assert get_index().photo_projection is None


def test_too_few_training_photos_fit_no_learned_space(photo_training) -> None:
    make_catalogue(700)
    data = head_figures.head_data_load()
    result = head_training.head_train(params=FAST, photos=synthetic_pairs(data, train=20))
    assert head_mod.SimilarityModel.from_bytes(result.head.weights).photo is None
    assert result.head.params["photo_space"] == "not fitted: 20 training photos (needed 100)"


# --- the photos, from real images through the real model ------------------------------------------


def test_training_photos_come_from_real_images_of_training_products_only(real_model, make_product) -> None:
    from tests.support.catalogue import embedded_catalogue, products_start_at

    # The split is by product id: the same ids in every test order (some runs of 40 ids hold no
    # validation or evaluation product), so the products start at a fixed id.
    products_start_at(100_000)
    products = embedded_catalogue(make_product, 40)
    ids = np.asarray(sorted(p.pk for p in products), np.int64)
    assert ids[0] == 100_000 and {"train", "val", "eval"} <= set(head_mod.split_of(ids))
    split = head_mod.split_of(ids)
    missing = next(p for p in products if split[list(ids).index(p.pk)] == "train")
    default_storage.delete(missing.image.name)  # a bad file is skipped, never fatal

    pairs = photo_pairs.photo_pairs_embed(ids, train=50, validation=50, evaluation=50)
    assert set(split[pairs.train.rows]) == {"train"} and set(split[pairs.validation.rows]) == {"val"}
    assert pairs.train.skipped == 1 and missing.pk not in ids[pairs.train.rows]
    assert len(pairs.train) == np.count_nonzero(split == "train") - 1
    assert set(pairs.evaluation) == {"standard", "hard"}
    for photos in (pairs.train, pairs.validation, *pairs.evaluation.values()):
        assert photos.vectors.shape == (len(photos), 2048) and photos.colours.shape[0] == len(photos)
        np.testing.assert_allclose(np.linalg.norm(photos.vectors, axis=1), 1.0, rtol=1e-4)
    held_out = pairs.evaluation["standard"]
    assert set(split[held_out.rows]) == {"eval"}
    # Training photos: half hard, half standard, from their own seeds (not the same photos).
    half = len(photo_pairs._chosen(ids, np.flatnonzero(split == "train"), 50, "training-photo")) // 2
    hard, standard = pairs.train.vectors[:half], pairs.train.vectors[half:]
    assert len(hard) and len(standard)
    # Held-out photos are measured as photo search embeds an upload: trimmed and whole, and
    # the whole photo differs from the trimmed region where the default box cut borders.
    for photos in pairs.evaluation.values():
        assert photos.whole_vectors is not None and photos.whole_vectors.shape == photos.vectors.shape
        assert photos.whole_colours is not None and photos.whole_colours.shape == photos.colours.shape
        assert len(photos.variants()) == 2 and photos.query(0)[0].shape == (2, 2048)
    trimmed = np.abs(held_out.whole_vectors - held_out.vectors).max(axis=1) > 1e-6
    assert 0 < trimmed.sum() <= len(held_out)
    assert pairs.train.whole_vectors is None and len(pairs.train.variants()) == 1
    # The evaluation's photos are another generator's: no training photo equals one of them.
    assert not np.isin(held_out.rows, pairs.train.rows).any()
    # Real photos of real products: the raw vectors find most of them among these 40.
    data = head_figures.head_data_load()
    assert list(data.ids) == list(ids)
    train_photos = pairs.train
    ranks = np.argsort(-(train_photos.vectors @ data.vectors.T), axis=1)[:, :5]
    assert np.mean([row in top for row, top in zip(train_photos.rows, ranks, strict=True)]) >= 0.75


def test_scene_photos_are_training_products_lying_small_cut_out_by_their_box(real_model, make_product) -> None:
    """The real-photo training photos: further training (and validation) products, each lying
    small in a generated scene of the TRAINING backgrounds, its box cut as photo search cuts a
    detected item, through the real model; never a held-out product."""
    from tests.support.catalogue import embedded_catalogue, products_start_at
    from visualsearch.ml import scenes

    products_start_at(100_000)
    products = embedded_catalogue(make_product, 40)
    ids = np.asarray(sorted(p.pk for p in products), np.int64)
    split = head_mod.split_of(ids)
    assert photo_pairs.SCENE_PHOTO_SEED not in (scenes.EVALUATION_SEED, scenes.EVALUATION_SEED + 1)

    plain = photo_pairs.photo_pairs_embed(ids, train=6, validation=1, evaluation=0)
    pairs = photo_pairs.photo_pairs_embed(ids, train=6, validation=1, evaluation=0, scenes=50, validation_scenes=50)
    # The shopper photos are the same; the scene photos come after them, of other products.
    assert list(pairs.train.rows[:6]) == list(plain.train.rows)
    np.testing.assert_allclose(pairs.train.vectors[:6], plain.train.vectors, atol=1e-5)
    scene_rows = pairs.train.rows[6:]
    assert len(scene_rows) == np.count_nonzero(split == "train") - 6
    assert not np.isin(scene_rows, plain.train.rows).any() and set(split[scene_rows]) == {"train"}
    assert len(pairs.validation) == np.count_nonzero(split == "val") and set(split[pairs.validation.rows]) == {"val"}
    assert not pairs.evaluation
    # An item lying small beside clutter is not its catalogue picture, yet the model still
    # knows it: the raw vectors find most scene photos' products among these 40.
    data = head_figures.head_data_load()
    vectors = pairs.train.vectors[6:]
    cosines = np.einsum("ij,ij->i", vectors, data.vectors[scene_rows])
    assert cosines.max() < 0.99
    ranks = np.argsort(-(vectors @ data.vectors.T), axis=1)[:, :5]
    assert np.mean([row in top for row, top in zip(scene_rows, ranks, strict=True)]) >= 0.5


def test_a_head_that_only_improves_photo_search_is_activated(photo_training) -> None:
    # Enough held-out photos (~150) for the photo gain to be told from noise.
    make_catalogue(1500)
    data = head_figures.head_data_load()
    first = head_training.head_train(params=FAST)  # no photos: find similar only
    assert first.activated
    second = head_training.head_train(params=FAST, photos=synthetic_pairs(data))
    # The same find-similar head (same data, same seed); its photo space wins on held-out photos.
    assert second.head.metrics["eval"] == first.head.metrics["eval"]
    assert second.activated, second.reason
    assert f"held-out products and {len(synthetic_pairs(data).evaluation['standard'])} photos" in second.reason
    assert get_index().photo_projection is not None
    # The same data, settings and photos again: the second head is reused, nothing is added.
    heads_before = SimilarityHead.objects.count()
    third = head_training.head_train(params=FAST, photos=synthetic_pairs(data))
    assert third.reused and not third.activated and third.head == second.head
    assert SimilarityHead.objects.count() == heads_before
