"""Loading the process's index from the database and keeping it fresh: changes reach other
processes through the change log (only changed rows are read again), a change committed
late is still applied, an idle process and a new projection reload everything.

Products are real catalogue photos (or images made here) saved through storage, with
embeddings computed by the real model through visualsearch.services.embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.base import ContentFile

from shop.models import Product
from tests.support.catalogue import catalogue_photo, rows_with_images
from tests.support.embeddings import store_vector
from tests.support.index_probe import stored_attributes, stored_vector
from visualsearch.index.loading import LiveIndex
from visualsearch.models import IndexChange, Projection
from visualsearch.query.similar import similar_to_product
from visualsearch.services import changelog, projection
from visualsearch.tests.index.support import embed, near_duplicate, product_from_row, stored_photo

pytestmark = pytest.mark.django_db


def fresh_index() -> LiveIndex:
    """An index as a new process would build it (refreshes only when asked)."""
    index = LiveIndex(refresh_seconds=3600)
    index.load()
    return index


# --- Freshness: two processes ----------------------------------------------------------------------


@pytest.fixture
def two_processes(catalogue: list[Product]) -> tuple[LiveIndex, LiveIndex]:
    """Two loaded indexes standing in for two web processes."""
    return fresh_index(), fresh_index()


@pytest.fixture
def reader(two_processes: tuple[LiveIndex, LiveIndex]) -> LiveIndex:
    """The second of the two processes: the one that reads what the first one (or this test) wrote."""
    return two_processes[1]


def refreshed_rows(index: LiveIndex) -> int:
    before = index.stats["rows_refreshed"]
    index.refresh()
    return index.stats["rows_refreshed"] - before


@pytest.mark.slow
def test_added_product_appears_in_the_other_process(
    two_processes: tuple[LiveIndex, LiveIndex], make_product: Callable[..., Product]
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


@pytest.mark.slow
def test_reembedded_product_gets_its_new_vector(
    two_processes: tuple[LiveIndex, LiveIndex],
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


def assert_gone_after_one_refreshed_row(reader: LiveIndex, pk: int, others: list[Product]) -> None:
    """One refresh reads the change: ``pk`` is neither in ``reader`` nor among the hits for ``others``."""
    assert refreshed_rows(reader) == 1
    assert pk not in reader
    for other in others:
        if other.pk != pk:
            assert pk not in {h.product_id for h in reader.similar_to_product(other.pk, 50)}


@pytest.mark.slow
def test_deactivated_product_disappears_from_the_other_process(reader: LiveIndex, catalogue: list[Product]) -> None:
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


@pytest.mark.slow
def test_deleted_product_disappears_from_the_other_process(reader: LiveIndex, catalogue: list[Product]) -> None:
    product = catalogue[5]
    pk = product.pk
    product.delete()
    assert_gone_after_one_refreshed_row(reader, pk, catalogue[:3])
    assert reader.stats["full_loads"] == 1


@pytest.mark.slow
def test_changed_attributes_are_refreshed(reader: LiveIndex, catalogue: list[Product]) -> None:
    product = catalogue[2]
    product.base_colour = "Mauve"
    product.save()
    assert refreshed_rows(reader) == 1
    assert stored_attributes(reader, product.pk)["base_colour"] == "Mauve"
    hits = reader.similar_to_product(catalogue[7].pk, 5, {"base_colour": "Mauve"})
    assert [h.product_id for h in hits] == [product.pk]


@pytest.mark.slow
def test_a_change_committed_late_is_still_applied(reader: LiveIndex, catalogue: list[Product]) -> None:
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_refresh_with_nothing_changed_reads_nothing(reader: LiveIndex) -> None:
    refreshes = reader.stats["refreshes"]
    assert refreshed_rows(reader) == 0
    assert reader.stats["refreshes"] == refreshes


@pytest.mark.slow
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


@pytest.mark.slow
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


# --- An idle process --------------------------------------------------------------------------------


def _embed(product, seed: int) -> None:
    store_vector(product, seed=seed)
    changelog.index_changes_record([product.pk])


def test_a_process_idle_past_half_the_retention_reloads_everything(settings, make_product) -> None:
    settings.VISUALSEARCH_INDEX_REFRESH_SECONDS = 0
    settings.VISUALSEARCH_INDEX_CHANGE_RETENTION_HOURS = 48
    products = [make_product() for _ in range(3)]
    for seed, product in enumerate(products):
        _embed(product, seed)
    index = LiveIndex()
    assert len(index) == 3
    loads = index.stats["full_loads"]
    # A deactivation whose log entry is then pruned away: only a full reload can see it.
    products[0].is_active = False
    products[0].save()
    IndexChange.objects.all().delete()
    index.ensure_fresh()
    assert products[0].pk in index  # a fresh process would not see the pruned change...
    index._last_check = time.monotonic() - 25 * 3600  # ...but one idle for 25 hours reloads
    index.ensure_fresh()
    assert index.stats["full_loads"] == loads + 1
    assert products[0].pk not in index
