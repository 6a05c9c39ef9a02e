"""Similarity heads: training on products outside the evaluation split, activation only on
improvement, rollback, the unlabelled fallback, the index and its queries agreeing on the
head version, and the two rankings (find similar by head + colour, photo search by raw
vector + colour).

The catalogue here is synthetic (no model, no images): each product's "ResNet50 vector"
is its article type's direction, weak, under a strong nuisance shared across types (pose,
lighting), so the raw vectors rank types poorly and a head can learn to ignore the nuisance;
its colour descriptor is its colour's histogram plus noise.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from shop.models import Product
from visualsearch import selectors
from visualsearch.conf import VisualSearchSettings
from visualsearch.index import get_index
from visualsearch.index.base import FULL_DIMS
from visualsearch.ml import head as head_mod
from visualsearch.ml.colour import COLOUR_DIM, to_bytes
from visualsearch.ml.embedder import MODEL_VERSION
from visualsearch.models import EmbeddingStatus, ProductEmbedding, SimilarityHead
from visualsearch.query.ranking import rank_photo
from visualsearch.query.similar import similar_to_product
from visualsearch.services import head_figures, head_training, heads

# Training takes seconds per test (the slow tier, as the project marks anything over 2 s).
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TYPES = ["Tshirts", "Shirts", "Jeans", "Watches", "Sandals", "Handbags"]
COLOURS = ["Black", "Blue", "Red", "White"]
GENDERS = ["Men", "Women"]


def synthetic_rows(count: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    type_dirs = rng.standard_normal((len(TYPES), FULL_DIMS))
    nuisance = rng.standard_normal((8, FULL_DIMS)) * 1.5
    colour_hists = np.abs(rng.standard_normal((len(COLOURS), COLOUR_DIM))) ** 4
    rows = []
    for i in range(count):
        t, c, g = i % len(TYPES), (i // len(TYPES)) % len(COLOURS), (i // 7) % 2
        vector = type_dirs[t] + rng.standard_normal(8) @ nuisance + 0.8 * rng.standard_normal(FULL_DIMS)
        colour = colour_hists[c] + 0.3 * np.abs(rng.standard_normal(COLOUR_DIM))
        rows.append(
            {
                "article_type": TYPES[t],
                "base_colour": COLOURS[c],
                "gender": GENDERS[g],
                "vector": (vector / np.linalg.norm(vector)).astype(np.float32),
                "colour": (colour / np.linalg.norm(colour)).astype(np.float32),
            }
        )
    return rows


def make_catalogue(count: int = 900, *, labelled: bool = True, with_colour: bool = True) -> list[Product]:
    rows = synthetic_rows(count)
    products = Product.objects.bulk_create(
        [
            Product(
                name=f"Synthetic {i}",
                gender=row["gender"],
                master_category="Apparel",
                sub_category=row["article_type"] + " group",
                article_type=row["article_type"] if labelled else "",
                base_colour=row["base_colour"] if labelled else "",
                image=f"products/synthetic-{i}.jpg",
            )
            for i, row in enumerate(rows)
        ]
    )
    ProductEmbedding.objects.bulk_create(
        [
            ProductEmbedding(
                product=product,
                vector=row["vector"].astype("<f4").tobytes(),
                colour=to_bytes(row["colour"]) if with_colour else None,
                status=EmbeddingStatus.DONE,
                model_version=MODEL_VERSION,
            )
            for product, row in zip(products, rows, strict=True)
        ]
    )
    return products


@pytest.fixture
def quick_training(settings):
    settings.VISUALSEARCH_HEAD_EPOCHS = 12
    settings.VISUALSEARCH_HEAD_MIN_LABELLED = 50
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10_000  # raw full vectors in the index: exact figures
    settings.VISUALSEARCH_HEAD_MIN_EVAL_QUERIES = 40  # the small catalogues here hold 60–90
    settings.VISUALSEARCH_HEAD_BOOTSTRAP_SAMPLES = 500
    return settings


FAST = head_mod.HeadParams(epochs=12, hidden=128, out=64, input_dims=128, batch=32)
# Another seed: another head on the same data (the same parameters would reuse the first).
OTHER = dataclasses.replace(FAST, seed=7)


def train(**kwargs) -> head_training.TrainingResult:
    return head_training.head_train(params=kwargs.pop("params", FAST), **kwargs)


# --- the split ------------------------------------------------------------------------------------


def test_split_is_stable_and_about_ten_percent() -> None:
    ids = np.arange(1, 20_001)
    split = head_mod.split_of(ids)
    assert 0.09 < np.mean(split == "eval") < 0.11 and 0.09 < np.mean(split == "val") < 0.11
    # A product's split depends on its id only: not on the order or the rest of the catalogue.
    assert list(head_mod.split_of(ids[::-7])) == list(split[::-7])
    assert head_mod.split_of([12345])[0] == split[12344]


def test_head_bytes_round_trip_and_numpy_application() -> None:
    rng = np.random.default_rng(0)
    x = head_mod.l2n(rng.standard_normal((300, FULL_DIMS)).astype(np.float32))
    labels = rng.integers(0, 3, 300)
    head = head_mod.train_head(x, labels, params=head_mod.HeadParams(epochs=2, hidden=32, out=16))
    colour = head_mod.train_colour_model(
        np.abs(rng.standard_normal((300, COLOUR_DIM))).astype(np.float32), x, labels, ["a", "b", "c"], epochs=2
    )
    model = head_mod.SimilarityModel(head, colour, 0.4)
    copy = head_mod.SimilarityModel.from_bytes(model.to_bytes())
    colours = np.abs(rng.standard_normal((5, COLOUR_DIM))).astype(np.float32)
    colours[2] = np.nan  # no stored descriptor: no colour part
    rows = copy.similar_vectors(x[:5], colours)
    assert rows.shape == (5, 16 + 3)
    np.testing.assert_allclose(rows, model.similar_vectors(x[:5], colours), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(rows[:, :16], axis=1), 1.0, rtol=1e-5)
    assert not rows[2, 16:].any()


# --- training and activation ----------------------------------------------------------------------


def test_training_beats_the_raw_vectors_on_held_out_products_and_activates(quick_training) -> None:
    products = make_catalogue()
    result = train()
    row = result.head
    assert result.activated and row.active and row.activated_at is not None
    figures, raw = row.metrics["eval"], row.metrics["raw"]
    assert figures["p5_type"] > raw["p5_type"] + 0.1
    assert figures["p5_type_colour"] > raw["p5_type_colour"]
    assert row.training_seconds > 0 and row.size_bytes == len(bytes(row.weights)) > 0
    # Trained on products outside the evaluation split only, epochs chosen on the validation ones.
    split = head_mod.split_of([p.pk for p in products])
    assert row.trained_on == int(np.sum(split == "train"))
    assert figures["queries"] == int(np.sum(split == "eval"))
    assert row.params["epoch"] >= 1 and row.params["colour_weight"] in (0.3, 0.5, 0.7, 1.0)


def test_a_head_that_does_not_beat_the_active_one_is_kept_inactive(quick_training) -> None:
    make_catalogue()
    first = train().head
    worse = train(params=head_mod.HeadParams(epochs=1, lr=1e-7, hidden=128, out=64, input_dims=128))
    assert not worse.activated
    assert "Not activated" in worse.reason and f"the active head {first.version}" in worse.reason
    assert selectors.head_active() == first
    assert SimilarityHead.objects.count() == 2
    assert SimilarityHead.objects.filter(active=True).count() == 1


def test_rollback_goes_back_one_head_at_a_time_then_to_raw_vectors(quick_training) -> None:
    make_catalogue(600)
    first = train().head
    second = train(activate=False, params=OTHER).head
    heads.head_activate(second)
    assert selectors.head_active() == second
    assert heads.head_rollback() == first
    assert selectors.head_active() == first
    assert heads.head_rollback() is None
    assert selectors.head_active() is None and not SimilarityHead.objects.filter(active=True).exists()


def test_one_active_head_is_enforced_by_the_database(quick_training) -> None:
    from django.db import IntegrityError, transaction

    make_catalogue(600)
    train()
    other = train(activate=False, params=OTHER).head
    with pytest.raises(IntegrityError), transaction.atomic():
        SimilarityHead.objects.filter(pk=other.pk).update(active=True)


def test_an_unlabelled_catalogue_keeps_the_raw_vectors(quick_training) -> None:
    products = make_catalogue(300, labelled=False)
    with pytest.raises(head_training.NotEnoughLabels, match="keeps the raw vectors"):
        train()
    with pytest.raises(CommandError, match="Too few labelled products"):
        call_command("train_head", stdout=io.StringIO())
    assert not SimilarityHead.objects.exists()
    index = get_index()
    assert index.head_version is None and index.model_version == MODEL_VERSION
    result = similar_to_product(products[0], k=5)
    assert len(result.results) == 5 and result.model_version == MODEL_VERSION


def test_too_few_products_per_type_is_unlabelled_too(quick_training) -> None:
    quick_training.VISUALSEARCH_HEAD_MIN_PER_CLASS = 1000
    make_catalogue(300)
    with pytest.raises(head_training.NotEnoughLabels):
        train()


def test_train_head_command_prints_the_figures(quick_training) -> None:
    make_catalogue()  # enough held-out products for the gain to be beyond noise
    out = io.StringIO()
    call_command("train_head", "--epochs", "12", stdout=out)
    text = out.getvalue()
    assert "p5_type_colour" in text and "activated" in text
    assert SimilarityHead.objects.get().active
    call_command("train_head", "--rollback", stdout=out)
    assert "raw vectors (no head)" in out.getvalue()


# --- the index and the two rankings ---------------------------------------------------------------


def _expected_top(matrix: np.ndarray, row: int, k: int) -> list[int]:
    scores = matrix @ matrix[row]
    scores[row] = -np.inf
    return list(np.argsort(-scores, kind="stable")[:k])


def test_find_similar_ranks_by_the_active_head_and_colour(quick_training) -> None:
    products = make_catalogue(600)
    head_row = train().head
    model = head_mod.SimilarityModel.from_bytes(head_row.weights)
    data = head_figures.head_data_load()
    similar = model.similar_vectors(data.vectors, data.colours)
    result = similar_to_product(products[3], k=5)
    row = list(data.ids).index(products[3].pk)
    assert [p.product.pk for p in result.results] == [int(data.ids[r]) for r in _expected_top(similar, row, 5)]
    assert result.model_version == f"{MODEL_VERSION}+head-v{head_row.pk}"


def test_photo_search_ranks_by_the_raw_vector_and_finds_the_exact_product(quick_training) -> None:
    products = make_catalogue(600)
    train()
    index = get_index()
    assert index.head_version is not None
    data = head_figures.head_data_load()
    for product in products[:20]:
        row = list(data.ids).index(product.pk)
        hits = rank_photo(index, data.vectors[row], data.colours[row], 5, {})
        # The exact product first: the head (which groups products by type) is not used.
        assert hits[0].product_id == product.pk
        weight = (
            float(quick_training.VISUALSEARCH_PHOTO_COLOUR_WEIGHT)
            if hasattr(quick_training, "VISUALSEARCH_PHOTO_COLOUR_WEIGHT")
            else VisualSearchSettings.PHOTO_COLOUR_WEIGHT
        )
        raw_scores = data.vectors @ data.vectors[row] + weight * (data.colours @ data.colours[row])
        assert [h.product_id for h in hits] == [int(data.ids[r]) for r in np.argsort(-raw_scores)[:5]]
        # Find similar never returns the product itself.
        assert product.pk not in [p.product.pk for p in similar_to_product(product, k=5).results]


def test_index_and_queries_agree_on_the_head_version(quick_training) -> None:
    products = make_catalogue(600)
    first = train().head
    second = train(activate=False, params=OTHER).head
    index = get_index()
    assert index.head_version == f"head-v{first.pk}"
    before = similar_to_product(products[0], k=5)
    assert before.model_version.endswith(f"+head-v{first.pk}")
    heads.head_activate(second)  # another process switched heads: the index reloads on its next look
    after = similar_to_product(products[0], k=5)
    assert index.head_version == f"head-v{second.pk}"
    assert after.model_version == f"{MODEL_VERSION}+head-v{second.pk}"
    model = head_mod.SimilarityModel.from_bytes(second.weights)
    data = head_figures.head_data_load()
    similar = model.similar_vectors(data.vectors, data.colours)
    expected = _expected_top(similar, list(data.ids).index(products[0].pk), 5)
    assert [p.product.pk for p in after.results] == [int(data.ids[r]) for r in expected]
    heads.head_rollback()
    assert similar_to_product(products[0], k=5).model_version.endswith(f"+head-v{first.pk}")
    heads.head_rollback()
    assert similar_to_product(products[0], k=5).model_version == MODEL_VERSION


def test_rows_stored_without_a_colour_descriptor_still_search(quick_training) -> None:
    products = make_catalogue(600, with_colour=False)
    result = train()  # no colour descriptor anywhere: the head alone
    assert result.head.params["colour_classes"] == 0
    assert len(similar_to_product(products[1], k=5).results) == 5
    data = head_figures.head_data_load()
    hits = rank_photo(get_index(), data.vectors[1], None, 5, {})
    assert hits[0].product_id == int(data.ids[1])


def test_index_memory_counts_both_matrices(quick_training) -> None:
    make_catalogue(600)
    index = get_index()
    len(index)
    raw_only = index.nbytes
    train()
    len(index)
    assert index.head_version is not None
    assert index.nbytes > raw_only + 600 * 4 * 64


# --- the admin ------------------------------------------------------------------------------------


def test_admin_lists_heads_and_rolls_back(quick_training, admin_client) -> None:
    make_catalogue(600)
    url = reverse("admin:visualsearch_similarityhead_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200 and "Retrain similarity" in response.content.decode()
    head = train().head  # the button's background retrain: visualsearch/tests/services/test_head_jobs.py
    assert head.active
    page = admin_client.get(url).content.decode()
    assert head.version in page and "P@5 type∧colour" in page and "raw backbone" in page
    assert f"{MODEL_VERSION}+{head.version}" in page
    assert f"{head.training_seconds:.0f} s" in page
    response = admin_client.post(reverse("admin:visualsearch_similarityhead_rollback"), follow=True)
    assert "find similar uses the raw vectors" in response.content.decode()
    assert selectors.head_active() is None
    admin_client.post(reverse("admin:visualsearch_similarityhead_activate", args=[head.pk]))
    assert selectors.head_active() == head


def test_the_api_shows_the_model_version_with_the_head(quick_training, client) -> None:
    products = make_catalogue(600)
    url = reverse("visualsearch:api_similar", args=[products[0].pk])
    assert client.get(url).json()["model_version"] == MODEL_VERSION
    head = train().head
    body = client.get(url).json()
    assert body["model_version"] == f"{MODEL_VERSION}+head-v{head.pk}" and len(body["results"]) == 5
