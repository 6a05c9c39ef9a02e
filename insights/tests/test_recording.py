"""Recording through the real pages: each event kind lands in the buffer, the flush writes it,
and clicks, adds to bag and orders are credited to the visual search that came before them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from insights import buffer
from insights.models import EventKind, SearchEvent, UnmatchedPhoto
from insights.services import events_flush
from insights.touch import COOKIE
from tests.support.embeddings import store_vector
from tests.support.images import image_bytes
from tests.support.shopping import add_to_bag, checkout_to_review, place_order, priced_product, variant

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(make_product):
    """Eight priced products with stored vectors (no model): find similar works on them."""
    products = [priced_product(make_product, price=f"{100 * (i + 1)}.00", name=f"Blue Shirt {i}") for i in range(8)]
    for i, product in enumerate(products):
        store_vector(product, seed=i)
    return products


def _events(kind: str) -> list[SearchEvent]:
    return list(SearchEvent.objects.filter(kind=kind).order_by("pk"))


def test_a_text_search_is_recorded_with_its_result_count(catalogue) -> None:
    client = Client()
    assert client.get(reverse("shop:catalogue"), {"q": "shirt"}).status_code == 200
    assert client.get(reverse("shop:catalogue"), {"q": "zebra umbrella"}).status_code == 200
    assert buffer.events_waiting() == 2
    assert SearchEvent.objects.count() == 0  # the request wrote nothing to the database
    assert events_flush() == 2
    found, empty = _events(EventKind.TEXT)
    assert (found.text, found.results) == ("shirt", 8)
    assert (empty.text, empty.results) == ("zebra umbrella", 0)


def test_find_similar_then_a_click_on_a_result_is_a_click_through(catalogue) -> None:
    client = Client()
    start = catalogue[0]
    response = client.get(reverse("visualsearch:similar", args=[start.pk]))
    assert response.status_code == 200
    assert COOKIE in response.cookies
    shown = [item.product.pk for item in response.context["result"].results]
    assert len(shown) == 5
    not_shown = next(p for p in catalogue if p.pk not in shown and p.pk != start.pk)
    client.get(reverse("shop:product_detail", args=[shown[1]]))
    client.get(reverse("shop:product_detail", args=[not_shown.pk]))
    events_flush()
    (similar,) = _events(EventKind.SIMILAR)
    assert similar.product_id == start.pk
    assert similar.results == len(shown)
    (click,) = _events(EventKind.CLICK)
    assert (click.product_id, click.via) == (shown[1], "similar")


def test_a_product_page_without_a_visual_search_before_is_no_click_through(catalogue) -> None:
    client = Client()
    client.get(reverse("shop:product_detail", args=[catalogue[1].pk]))
    events_flush()
    assert not SearchEvent.objects.exists()


def test_add_to_bag_and_the_order_after_visual_search_are_credited_to_it(catalogue) -> None:
    client = Client()
    client.get(reverse("visualsearch:similar", args=[catalogue[0].pk]))
    bought = catalogue[2]
    assert add_to_bag(client, variant(bought, "M"), 2).status_code == 302
    response = place_order(client, checkout_to_review(client))
    assert response.status_code == 302
    # The same checkout submitted again gives the same order: it is counted once.
    events_flush()
    (bag,) = _events(EventKind.BAG)
    assert (bag.product_id, bag.quantity, bag.via) == (bought.pk, 2, "similar")
    (order,) = _events(EventKind.ORDER)
    assert order.order is not None
    assert order.revenue == Decimal("600.00") == order.order.subtotal
    assert order.via == "similar"


def test_an_order_without_visual_search_is_not_credited(catalogue) -> None:
    client = Client()
    add_to_bag(client, variant(catalogue[2], "M"))
    place_order(client, checkout_to_review(client))
    events_flush()
    assert not _events(EventKind.BAG)
    assert not _events(EventKind.ORDER)


def test_the_same_order_submitted_twice_is_counted_once(catalogue) -> None:
    client = Client()
    client.get(reverse("visualsearch:similar", args=[catalogue[0].pk]))
    add_to_bag(client, variant(catalogue[3], "S"))
    review = checkout_to_review(client)
    first = place_order(client, review)
    again = place_order(client, review)
    assert first["Location"] == again["Location"]
    events_flush()
    assert len(_events(EventKind.ORDER)) == 1


class _FarAwayEmbedder:
    """Stands in for the model: every photo embeds to one vector unlike any product's."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        vector = np.random.default_rng(99).standard_normal(2048).astype(np.float32)
        return np.repeat(vector[None, :], len(batch), axis=0)


@pytest.fixture
def far_away_embedder(settings):
    from visualsearch.query import embedding

    # Nothing in this tiny catalogue is called close (the colour term alone would match the
    # test images' colour).
    settings.VISUALSEARCH_PHOTO_CLOSE_THRESHOLD = 50.0

    before = embedding.query_embedder()
    embedding.query_embedder_install(_FarAwayEmbedder())
    yield
    embedding.query_embedder_install(before)


def test_a_photo_with_nothing_close_keeps_its_vector_and_a_small_preview(catalogue, far_away_embedder) -> None:
    from PIL import Image

    client = Client()
    photo = image_bytes(size=(640, 480))
    response = client.post(reverse("visualsearch:photo_search"), {"image": _upload(photo)})
    assert response.status_code == 200
    assert response.context["result"].close_match is False
    events_flush()
    (event,) = _events(EventKind.PHOTO)
    assert event.nothing_close
    (kept,) = UnmatchedPhoto.objects.all()
    assert len(bytes(kept.vector)) == 2048 * 4
    import io

    with Image.open(io.BytesIO(bytes(kept.preview))) as preview:
        assert max(preview.size) <= 96
    assert len(bytes(kept.preview)) < len(photo)


def test_with_previews_off_only_the_vector_is_kept(catalogue, far_away_embedder, settings) -> None:
    settings.INSIGHTS_KEEP_PREVIEWS = False
    Client().post(reverse("visualsearch:photo_search"), {"image": _upload(image_bytes())})
    events_flush()
    (kept,) = UnmatchedPhoto.objects.all()
    assert kept.preview is None
    assert kept.vector


def test_with_recording_off_nothing_is_recorded_and_no_cookie_set(catalogue, settings) -> None:
    settings.INSIGHTS_RECORD = False
    client = Client()
    response = client.get(reverse("visualsearch:similar", args=[catalogue[0].pk]))
    client.get(reverse("shop:catalogue"), {"q": "shirt"})
    assert COOKIE not in response.cookies
    assert buffer.events_waiting() == 0


def test_a_forged_cookie_credits_nothing(catalogue) -> None:
    client = Client()
    client.cookies[COOKIE] = f'{{"k":"photo","p":[{catalogue[1].pk}]}}'
    client.get(reverse("shop:product_detail", args=[catalogue[1].pk]))
    events_flush()
    assert not SearchEvent.objects.exists()


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


@pytest.fixture
def without_redis(settings):
    """The embedded default: no REDIS_URL, events wait in this process's memory."""
    settings.REDIS_URL = ""
    buffer._client.cache_clear()
    yield
    buffer._client.cache_clear()


def test_without_redis_events_are_written_after_the_response(catalogue, without_redis) -> None:
    assert not buffer.uses_redis()
    Client().get(reverse("visualsearch:similar", args=[catalogue[0].pk]))
    # The test client closes the response, which sends request_finished: the flush ran then.
    (similar,) = _events(EventKind.SIMILAR)
    assert similar.product_id == catalogue[0].pk
    assert buffer.events_waiting() == 0
