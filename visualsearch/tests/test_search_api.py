"""The visual search JSON API: find similar and search by photo, their shapes, ordering,
limits and errors (always JSON, never a 500), on real catalogue photos: on random vectors
where no photo is embedded, with the real model where one is (slow).
The table of unusual and bad uploads runs against the API and the page in
visualsearch/tests/test_bad_input.py."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shop.models import Product, ProductVariant
from tests.support.catalogue import embedded_catalogue, stored_catalogue

pytestmark = pytest.mark.django_db

PHOTO_API = "/api/search/photo"
RESULT_KEYS = {
    "id",
    "external_id",
    "name",
    "article_type",
    "colour",
    "price",
    "currency",
    "in_stock",
    "score",
    "image_url",
    "url",
}


@pytest.fixture
def catalogue(db) -> list[Product]:
    """12 real catalogue products (external_id = catalogue id) on random unit vectors: the index
    works without the model (find similar, errors, refusals before a photo is embedded)."""
    return stored_catalogue(12)


@pytest.fixture
def embedded(make_product: Callable[..., Product]) -> list[Product]:
    """12 real catalogue products, embedded with the real model (photo searches; slow)."""
    return embedded_catalogue(make_product, 12)


def similar(client: Client, product_id: int, **params: str):
    return client.get(f"/api/products/{product_id}/similar", params)


def assert_error(response, status: int, words: str) -> None:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == status
    assert words in error["message"], error["message"]


def photo_of(product: Product) -> bytes:
    with product.image.open("rb") as handle:
        return handle.read()


def post_photo(client: Client, data: bytes, name: str = "photo.jpg", query: str = "", **fields: str):
    return client.post(PHOTO_API + query, {"image": SimpleUploadedFile(name, data), **fields})


# --- Find similar -------------------------------------------------------------------------------


def test_similar_shape_and_ordering(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[0]
    Product.objects.filter(pk=catalogue[1].pk).update(price=Decimal("1299.00"))
    ProductVariant.objects.create(product=catalogue[2], size="M", stock=0)  # sold out
    ProductVariant.objects.create(product=catalogue[3], size="M", stock=4)
    catalogue = list(Product.objects.filter(pk__in=[p.pk for p in catalogue]))
    response = similar(client, product.pk)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["filters"] == {}
    results = body["results"]
    assert len(results) == 5
    by_id = {p.pk: p for p in catalogue}
    for item in results:
        assert set(item) == RESULT_KEYS
        other = by_id[item["id"]]
        assert item["external_id"] == other.external_id  # the catalogue's own id
        assert (item["name"], item["article_type"], item["colour"]) == (
            other.name,
            other.article_type,
            other.base_colour,
        )
        assert item["url"] == f"http://testserver{other.get_absolute_url()}"
        assert item["price"] == (str(other.price) if other.price is not None else None)
        assert item["currency"] == "INR" and item["in_stock"] is other.in_stock
        assert item["image_url"].startswith("http://testserver/") and item["image_url"].endswith(".jpg")
        assert -1.0 <= item["score"] <= 1.0
    assert product.pk not in [item["id"] for item in results]
    scores = [item["score"] for item in results]
    assert scores == sorted(scores, reverse=True)


def test_k_default_explicit_and_capped(client: Client, catalogue: list[Product], settings) -> None:
    product = catalogue[1]
    assert len(similar(client, product.pk).json()["results"]) == 5
    assert len(similar(client, product.pk, k="2").json()["results"]) == 2
    assert len(similar(client, product.pk, k="1000").json()["results"]) == len(catalogue) - 1  # all others
    settings.VISUALSEARCH_MAX_K = 3
    assert len(similar(client, product.pk, k="10").json()["results"]) == 3
    assert len(similar(client, product.pk).json()["results"]) == 3


@pytest.mark.parametrize(("k", "words"), [("-1", "at least 1"), ("0", "at least 1"), ("abc", "whole number")])
def test_bad_k_is_400_json(client: Client, catalogue: list[Product], k: str, words: str) -> None:
    assert_error(similar(client, catalogue[0].pk, k=k), 400, words)
    assert_error(post_photo(client, photo_of(catalogue[0]), query=f"?k={k}"), 400, words)


def test_unknown_and_inactive_products_are_404_json(client: Client, catalogue: list[Product]) -> None:
    assert_error(similar(client, 987654321), 404, "No active product")
    product = catalogue[0]
    product.is_active = False
    product.save()
    assert_error(similar(client, product.pk), 404, "No active product")


def test_not_analysed_yet_is_409_json(
    client: Client, catalogue: list[Product], make_product: Callable[..., Product]
) -> None:
    pending = make_product()
    assert_error(similar(client, pending.pk), 409, "still being analysed")


def test_empty_index_is_503_json(client: Client, make_product: Callable[..., Product]) -> None:
    product = make_product()
    assert_error(similar(client, product.pk), 503, "no analysed products yet")
    assert_error(post_photo(client, photo_of(product)), 503, "no analysed products yet")


def test_refinements_through_the_api(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[0]
    body = similar(client, product.pk, same_master="1", same_gender="1").json()
    assert body["filters"] == {"master_category": product.master_category, "gender": product.gender}
    by_id = {p.pk: p for p in catalogue}
    eligible = [
        p
        for p in catalogue
        if p.pk != product.pk and (p.master_category, p.gender) == (product.master_category, product.gender)
    ]
    assert len(body["results"]) == min(5, len(eligible))
    for item in body["results"]:
        other = by_id[item["id"]]
        assert (other.master_category, other.gender) == (product.master_category, product.gender)


def test_wrong_method_is_405_json(client: Client, catalogue: list[Product]) -> None:
    assert_error(client.post(f"/api/products/{catalogue[0].pk}/similar"), 405, "GET")
    assert_error(client.get(PHOTO_API), 405, "POST")


# --- Photo search -------------------------------------------------------------------------------


@pytest.mark.slow
def test_photo_search_shape_and_ordering(client: Client, embedded: list[Product]) -> None:
    product = embedded[4]
    response = post_photo(client, photo_of(product))
    assert response.status_code == 200
    body = response.json()
    assert body["filters"] == {}
    results = body["results"]
    assert len(results) == 5
    assert all(set(item) == RESULT_KEYS for item in results)
    assert results[0]["id"] == product.pk and results[0]["external_id"] == product.external_id
    assert results[0]["score"] > 0.99  # the very same photo
    scores = [item["score"] for item in results]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
def test_photo_search_k_and_filters(client: Client, embedded: list[Product], settings) -> None:
    product = embedded[4]
    assert len(post_photo(client, photo_of(product), query="?k=3").json()["results"]) == 3
    assert len(post_photo(client, photo_of(product), k="2").json()["results"]) == 2
    settings.VISUALSEARCH_MAX_K = 4
    assert len(post_photo(client, photo_of(product), query="?k=40").json()["results"]) == 4
    body = post_photo(client, photo_of(product), type=product.article_type, gender=product.gender).json()
    assert body["filters"] == {"article_type": product.article_type, "gender": product.gender}
    same = [p for p in embedded if (p.article_type, p.gender) == (product.article_type, product.gender)]
    assert [item["id"] for item in body["results"]][:1] == [product.pk]
    assert len(body["results"]) == min(4, len(same))
    assert all(item["article_type"] == product.article_type for item in body["results"])


def test_photo_over_size_is_refused_json(client: Client, catalogue: list[Product], settings) -> None:
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 1000
    assert_error(post_photo(client, photo_of(catalogue[0]) + b"\0" * 1000), 400, "too large")
    assert_error(post_photo(client, b"\xff" * 100_000), 413, "too large")


def test_photo_missing_field_is_400_json(client: Client, catalogue: list[Product]) -> None:
    assert_error(client.post(PHOTO_API, {"photo": "not a file"}), 400, "field 'image'")
    assert_error(client.post(PHOTO_API, {}), 400, "field 'image'")
    assert_error(client.post(PHOTO_API, b'{"image": "x"}', content_type="application/json"), 400, "field 'image'")
    broken = client.post(PHOTO_API, b"--xyz\r\nnot really multipart", content_type="multipart/form-data; boundary=")
    assert broken.status_code == 400 and "error" in broken.json()
