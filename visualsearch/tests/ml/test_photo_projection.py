"""Photo search's learned space (visualsearch.ml.photo_projection), on synthetic vectors:
products that differ a little in many directions, photos that move them a lot in a few."""

from __future__ import annotations

import numpy as np
import pytest

from visualsearch.ml import head as head_mod
from visualsearch.ml.photo_projection import PhotoProjection, fit_learned_whitening, self_ranks

DIM = 2048
SMALL = 256  # the synthetic catalogues: any width works, and a small one trains fast


def synthetic(products: int, photos: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalogue vectors, photo vectors of the first ``photos`` products, and their rows."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((6, SMALL)) * 2.0  # what look-alikes share (type, pose)
    catalogue = rng.standard_normal((products, 6)) @ shared + 0.6 * rng.standard_normal((products, SMALL))
    catalogue = head_mod.l2n(catalogue)
    nuisance = rng.standard_normal((12, SMALL))  # what a shopper's photo changes (crop, light, background)
    rows = np.arange(photos)
    moved = catalogue[rows] * np.sqrt(SMALL) + rng.standard_normal((photos, 12)) @ nuisance * 4.0
    return catalogue, head_mod.l2n(moved + 0.2 * rng.standard_normal((photos, SMALL))), rows


def test_the_learned_space_finds_photographed_products_the_raw_vectors_miss() -> None:
    catalogue, photos, rows = synthetic(3000, 1400)
    train, held_out = slice(0, 1000), slice(1000, 1400)
    projection = fit_learned_whitening(photos[train], catalogue[rows[train]], catalogue, shrinkage=0.05, dims=64)
    raw = self_ranks(photos[held_out], catalogue, rows[held_out])
    learned = self_ranks(projection.apply(photos[held_out]), projection.apply(catalogue), rows[held_out])
    assert np.mean(raw < 1) < 0.5  # the nuisance hides most products from the raw vectors
    assert np.mean(learned < 1) > np.mean(raw < 1) + 0.3
    assert projection.dims == 64
    assert projection.apply(catalogue[:3]).shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(projection.apply(catalogue[:50]), axis=1), 1.0, rtol=1e-5)


def test_a_corrupt_vector_never_ranks_first() -> None:
    catalogue, photos, rows = synthetic(200, 150)
    projection = fit_learned_whitening(photos[:100], catalogue[rows[:100]], catalogue, shrinkage=1.0, dims=32)
    broken = catalogue[:2].copy()
    broken[0, 5] = np.nan
    broken[1, :] = np.inf
    assert np.isfinite(projection.apply(broken)).all()


def test_pairs_must_match_row_for_row() -> None:
    catalogue, photos, _rows = synthetic(100, 50)
    with pytest.raises(ValueError, match="matching rows"):
        fit_learned_whitening(photos[:10], catalogue[:9], catalogue, shrinkage=1.0, dims=8)
    with pytest.raises(ValueError, match="matching rows"):
        fit_learned_whitening(photos[:0], catalogue[:0], catalogue, shrinkage=1.0, dims=8)


def test_the_model_bytes_carry_the_learned_space() -> None:
    rng = np.random.default_rng(3)
    head = head_mod.Head(
        rng.standard_normal((DIM, 16)).astype(np.float32),
        np.zeros(16, np.float32),
        rng.standard_normal((16, 8)).astype(np.float32),
        np.zeros(8, np.float32),
    )
    photo = PhotoProjection(
        rng.standard_normal(DIM).astype(np.float32), rng.standard_normal((DIM, 32)).astype(np.float32), 0.2, 1.0
    )
    model = head_mod.SimilarityModel(head, None, 0.0, {"epoch": 3}, photo)
    again = head_mod.SimilarityModel.from_bytes(model.to_bytes())
    assert again.photo is not None
    np.testing.assert_array_equal(again.photo.matrix, photo.matrix)
    np.testing.assert_array_equal(again.photo.mean, photo.mean)
    assert (again.photo.colour_weight, again.photo.shrinkage) == (0.2, 1.0)
    assert again.nbytes == model.nbytes > photo.nbytes
    without = head_mod.SimilarityModel.from_bytes(head_mod.SimilarityModel(head, None, 0.0).to_bytes())
    assert without.photo is None


def test_self_ranks_score_each_product_by_the_best_variant_of_the_photo() -> None:
    rng = np.random.default_rng(3)
    catalogue = head_mod.l2n(rng.normal(size=(50, 16)))
    true = np.arange(10)
    off = head_mod.l2n(rng.normal(size=(10, 16)))  # variant one: unrelated to the product
    near = head_mod.l2n(catalogue[true] + 0.05 * rng.normal(size=(10, 16)))  # variant two: close to it
    alone = self_ranks(off, catalogue, true)
    both = self_ranks(off, catalogue, true, variants=[(near, None)])
    assert (alone > 0).mean() > 0.5 and (both == 0).all()
    # Colours count per variant: the second variant's colour, not the first's.
    colours = head_mod.l2n(rng.random((50, 8)))
    wrong = np.tile(colours[-1], (10, 1))
    ranks = self_ranks(
        near,
        catalogue,
        true,
        query_colours=wrong,
        catalogue_colours=colours,
        colour_weight=5.0,
        variants=[(near, colours[true])],
    )
    assert (ranks == 0).all()
