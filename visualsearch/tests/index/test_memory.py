"""The in-memory EmbeddingIndex: exact kNN, refinements, freshness across processes, PCA.

Products are real catalogue photos (or images made here) saved through storage, with
embeddings computed by the real model through visualsearch.services.embeddings.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageEnhance

from shop.attributes import SEARCHABLE_FIELDS as FILTER_FIELDS
from shop.models import Product
from tests.support.catalogue import catalogue_photo, product_fields, rows_with_images
from tests.support.index_probe import stored_attributes, stored_vector
from visualsearch.index import NotIndexed, projection
from visualsearch.index.memory import EmbeddingIndex
from visualsearch.models import IndexChange, Projection
from visualsearch.query.errors import NotAnalysedYet, SearchUnavailable
from visualsearch.query.similar import similar_to_product
from visualsearch.services import changelog, embeddings

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def stored_photo(product: Product) -> bytes:
    with product.image.open("rb") as handle:
        return handle.read()


def product_from_row(make_product: Callable[..., Product], row: dict[str, str], **overrides: object) -> Product:
    fields: dict[str, object] = {
        **product_fields(row),
        "season": row["season"],
        "usage": row["usage"],
        "year": int(row["year"]) if row["year"] else None,
    }
    fields.update(overrides)
    return make_product(image=catalogue_photo(row), **fields)


def embed(*products: Product) -> None:
    result = embeddings.embeddings_compute([p.pk for p in products])
    assert result.failed == 0


def near_duplicate(data: bytes) -> bytes:
    """The same photo a little brighter, re-encoded: what a shopper's copy of it looks like."""
    image = ImageEnhance.Brightness(Image.open(io.BytesIO(data)).convert("RGB")).enhance(1.08)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.fixture
def catalogue(make_product: Callable[..., Product]) -> list[Product]:
    """24 real catalogue products over the common article types, embedded."""
    products = [product_from_row(make_product, row) for row in rows_with_images(24)]
    embed(*products)
    return products


def fresh_index() -> EmbeddingIndex:
    """An index as a new process would build it (refreshes only when asked)."""
    index = EmbeddingIndex(refresh_seconds=3600)
    index.load()
    return index


# --- Exact search ---------------------------------------------------------------------------------


def test_never_the_product_itself_and_exactly_five(catalogue: list[Product]) -> None:
    index = fresh_index()
    assert len(index) == len(catalogue)
    for product in catalogue:
        hits = index.similar_to_product(product.pk, 5)
        assert len(hits) == 5
        assert product.pk not in [h.product_id for h in hits]
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_fewer_than_five_only_when_fewer_exist(make_product: Callable[..., Product]) -> None:
    products = [product_from_row(make_product, row) for row in rows_with_images(4)]
    embed(*products)
    index = fresh_index()
    hits = index.similar_to_product(products[0].pk, 5)
    assert sorted(h.product_id for h in hits) == sorted(p.pk for p in products[1:])
    assert len(index.similar_to_vector(stored_vector(index, products[0].pk), 5)) == 4  # a vector query: all 4
    assert index.similar_to_product(products[0].pk, 50) == hits


def test_ranking_matches_brute_force_over_the_stored_vectors(catalogue: list[Product]) -> None:
    index = fresh_index()
    ids = [p.pk for p in catalogue]
    matrix = np.stack([stored_vector(index, pid) for pid in ids])
    for row, pid in enumerate(ids[:6]):
        scores = matrix @ matrix[row]
        scores[row] = -np.inf
        expected = [ids[i] for i in np.argsort(-scores)[:5]]
        assert [h.product_id for h in index.similar_to_product(pid, 5)] == expected


def test_refinements_keep_only_matching_products(catalogue: list[Product]) -> None:
    index = fresh_index()
    for product in catalogue[:8]:
        for name in FILTER_FIELDS:
            value = getattr(product, name)
            hits = index.similar_to_product(product.pk, 5, {name: value})
            eligible = sum(1 for p in catalogue if p.pk != product.pk and getattr(p, name) == value)
            assert len(hits) == min(5, eligible)
            by_id = {p.pk: p for p in catalogue}
            assert all(getattr(by_id[h.product_id], name) == value for h in hits)


def test_refinements_are_applied_before_ranking(make_product: Callable[..., Product]) -> None:
    """Six products of different types share a rare colour: the filtered search still finds
    the five others, although none of them is among the unfiltered top 5."""
    rows = rows_with_images(30)
    products = [
        product_from_row(make_product, row, base_colour="Mauve" if i % 5 == 0 else row["baseColour"])
        for i, row in enumerate(rows)
    ]
    embed(*products)
    mauve = [p for p in products if p.base_colour == "Mauve"]
    assert len(mauve) == 6
    index = fresh_index()
    query = mauve[0]
    unfiltered = {h.product_id for h in index.similar_to_product(query.pk, 5)}
    filtered = index.similar_to_product(query.pk, 5, {"base_colour": "Mauve"})
    assert {h.product_id for h in filtered} == {p.pk for p in mauve[1:]}
    assert not {h.product_id for h in filtered} <= unfiltered
    # The same through the site's search code, with the shopper's toggle.
    result = similar_to_product(query, k=5, toggles={"same_colour": "1"})
    assert {item.product.pk for item in result.results} == {p.pk for p in mauve[1:]}
    assert index.similar_to_product(query.pk, 5, {"base_colour": "No such colour"}) == []


def test_not_indexed_and_empty_index(make_product: Callable[..., Product]) -> None:
    pending = make_product()
    index = fresh_index()
    assert len(index) == 0
    assert index.similar_to_vector(np.ones(2048, np.float32), 5) == []
    with pytest.raises(NotIndexed):
        index.similar_to_product(pending.pk, 5)
    with pytest.raises(SearchUnavailable, match="no analysed products yet"):
        similar_to_product(pending, k=5)
    embed(make_product(), make_product(base_colour="Blue"))
    with pytest.raises(NotAnalysedYet, match="still being analysed"):
        similar_to_product(pending, k=5)


# --- Freshness: two processes ----------------------------------------------------------------------


@pytest.fixture
def two_processes(catalogue: list[Product]) -> tuple[EmbeddingIndex, EmbeddingIndex]:
    """Two loaded indexes standing in for two web processes."""
    return fresh_index(), fresh_index()


@pytest.fixture
def reader(two_processes: tuple[EmbeddingIndex, EmbeddingIndex]) -> EmbeddingIndex:
    """The second of the two processes: the one that reads what the first one (or this test) wrote."""
    return two_processes[1]


def refreshed_rows(index: EmbeddingIndex) -> int:
    before = index.stats["rows_refreshed"]
    index.refresh()
    return index.stats["rows_refreshed"] - before


def test_added_product_appears_in_the_other_process(
    two_processes: tuple[EmbeddingIndex, EmbeddingIndex], make_product: Callable[..., Product]
) -> None:
    writer, reader = two_processes
    row = rows_with_images(25)[-1]
    added = product_from_row(make_product, row, external_id="new-1")
    twin = make_product(image=near_duplicate(catalogue_photo(row)), external_id="new-2")
    embed(added, twin)
    assert added.pk not in reader
    assert refreshed_rows(writer) == 2
    assert refreshed_rows(reader) == 2  # only the two changed products were read
    assert added.pk in reader
    assert reader.similar_to_product(added.pk, 1)[0].product_id == twin.pk
    assert reader.stats["full_loads"] == 1


def test_reembedded_product_gets_its_new_vector(
    two_processes: tuple[EmbeddingIndex, EmbeddingIndex],
    catalogue: list[Product],
    django_capture_on_commit_callbacks,
) -> None:
    writer, reader = two_processes
    product, other = catalogue[0], catalogue[10]
    assert product.article_type != other.article_type
    before = stored_vector(reader, product.pk)
    with django_capture_on_commit_callbacks(execute=True):  # the real path: save → queued task → computed
        product.image.save("replaced.jpg", ContentFile(near_duplicate(stored_photo(other))))
    assert np.array_equal(stored_vector(reader, product.pk), before)  # not refreshed yet
    assert refreshed_rows(writer) == refreshed_rows(reader) == 1
    after = stored_vector(reader, product.pk)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, stored_vector(fresh_index(), product.pk), atol=1e-6)
    assert reader.similar_to_product(product.pk, 1)[0].product_id == other.pk
    assert reader.stats["full_loads"] == 1


def assert_gone_after_one_refreshed_row(reader: EmbeddingIndex, pk: int, others: list[Product]) -> None:
    """One refresh reads the change: ``pk`` is neither in ``reader`` nor among the hits for ``others``."""
    assert refreshed_rows(reader) == 1
    assert pk not in reader
    for other in others:
        if other.pk != pk:
            assert pk not in {h.product_id for h in reader.similar_to_product(other.pk, 50)}


def test_deactivated_product_disappears_from_the_other_process(
    reader: EmbeddingIndex, catalogue: list[Product]
) -> None:
    product = catalogue[3]
    product.is_active = False
    product.save()
    assert product.pk in {h.product_id for h in reader.similar_to_product(catalogue[4].pk, 50)}
    assert_gone_after_one_refreshed_row(reader, product.pk, catalogue[:6])
    assert len(reader) == len(catalogue) - 1
    product.is_active = True
    product.save()
    assert refreshed_rows(reader) == 1
    assert product.pk in reader
    assert reader.stats["full_loads"] == 1


def test_deleted_product_disappears_from_the_other_process(reader: EmbeddingIndex, catalogue: list[Product]) -> None:
    product = catalogue[5]
    pk = product.pk
    product.delete()
    assert_gone_after_one_refreshed_row(reader, pk, catalogue[:3])
    assert reader.stats["full_loads"] == 1


def test_changed_attributes_are_refreshed(reader: EmbeddingIndex, catalogue: list[Product]) -> None:
    product = catalogue[2]
    product.base_colour = "Mauve"
    product.save()
    assert refreshed_rows(reader) == 1
    assert stored_attributes(reader, product.pk)["base_colour"] == "Mauve"
    hits = reader.similar_to_product(catalogue[7].pk, 5, {"base_colour": "Mauve"})
    assert [h.product_id for h in hits] == [product.pk]


def test_a_change_committed_late_is_still_applied(reader: EmbeddingIndex, catalogue: list[Product]) -> None:
    """Change ids are handed out before commit: a lower id can become visible after a
    higher one was read. The refresh comes back for the ids it skipped."""
    first, second = catalogue[8], catalogue[9]
    Product.objects.filter(pk__in=[first.pk, second.pk]).update(is_active=False)
    changelog.index_changes_record([first.pk])
    changelog.index_changes_record([second.pk])
    late = IndexChange.objects.get(product_id=first.pk, id__gt=reader._changes.watermark)
    late_id = late.id
    late.delete()  # not committed yet, as far as the reader can see
    assert refreshed_rows(reader) == 1
    assert second.pk not in reader and first.pk in reader
    IndexChange.objects.create(id=late_id, product_id=first.pk)  # ... and now it is
    assert refreshed_rows(reader) == 1
    assert first.pk not in reader
    assert reader.stats["late_changes"] == 1
    assert reader.stats["full_loads"] == 1


def test_a_change_still_open_while_a_process_loads_is_applied_later(catalogue: list[Product]) -> None:
    first, second = catalogue[8], catalogue[9]
    Product.objects.filter(pk__in=[first.pk, second.pk]).update(is_active=False)
    changelog.index_changes_record([first.pk])
    changelog.index_changes_record([second.pk])
    changelog.index_changes_record([catalogue[0].pk])
    late = IndexChange.objects.filter(product_id=first.pk).latest("id")
    late_id = late.id
    late.delete()
    Product.objects.filter(pk=first.pk).update(is_active=True)  # as the load sees it
    index = fresh_index()  # loads while the first change is still invisible
    assert first.pk in index and second.pk not in index
    Product.objects.filter(pk=first.pk).update(is_active=False)
    IndexChange.objects.create(id=late_id, product_id=first.pk)  # its transaction commits
    assert refreshed_rows(index) == 1
    assert first.pk not in index
    assert index.stats["full_loads"] == 1


def test_refresh_with_nothing_changed_reads_nothing(reader: EmbeddingIndex) -> None:
    refreshes = reader.stats["refreshes"]
    assert refreshed_rows(reader) == 0
    assert reader.stats["refreshes"] == refreshes


def test_the_process_index_refreshes_by_itself(catalogue: list[Product], settings) -> None:
    """With VISUALSEARCH_INDEX_REFRESH_SECONDS = 0 (tests), every search looks for changes."""
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0
    first = similar_to_product(catalogue[0], k=5)
    gone = first.results[0].product
    gone.is_active = False
    gone.save()
    again = similar_to_product(catalogue[0], k=5)
    assert gone.pk not in [item.product.pk for item in again.results]
    assert len(again.results) == 5


# --- PCA projection --------------------------------------------------------------------------------


def test_pca_projection_switches_dims_and_keeps_the_near_duplicate_first(
    catalogue: list[Product], make_product: Callable[..., Product], settings
) -> None:
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10
    settings.VISUALSEARCH_INDEX_DIMS = 12  # fitting needs 2 × dims embeddings: 25 here
    original = catalogue[4]
    twin = make_product(image=near_duplicate(stored_photo(original)), external_id="twin")
    embed(twin)
    index = fresh_index()
    assert (index.dims, index.projected) == (2048, False)
    assert projection.projection_fit() is not None
    stored = Projection.objects.get()
    assert (stored.dims, stored.fitted_on) == (12, len(catalogue) + 1)
    index.refresh()  # a new projection: the index reloads itself in it
    assert (index.dims, index.projected) == (12, True)
    assert stored_vector(index, original.pk).shape == (12,)
    assert index.stats["full_loads"] == 2
    assert index.nbytes < (len(catalogue) + 1) * 2048 * 4
    assert index.similar_to_product(original.pk, 1)[0].product_id == twin.pk
    assert index.similar_to_product(twin.pk, 1)[0].product_id == original.pk
    # The site's search re-ranks the projected candidates with the full vectors.
    result = similar_to_product(original, k=5)
    assert result.results[0].product.pk == twin.pk
    assert [r.score for r in result.results] == sorted((r.score for r in result.results), reverse=True)
    assert original.pk not in [r.product.pk for r in result.results]


def test_pca_needs_enough_embeddings(catalogue: list[Product], settings) -> None:
    settings.VISUALSEARCH_PCA_MIN_ROWS = 1000
    assert projection.projection_fit() is None
    assert fresh_index().projected is False
    settings.VISUALSEARCH_INDEX_DIMS = 0
    settings.VISUALSEARCH_PCA_MIN_ROWS = 10
    assert projection.projection_fit() is None
