"""Find similar and photo search through the API: refinements, in stock, price bounds, the
upload with its box and filters, and refining by the kept token without the photo.

Photo searches embed with the suite's stand-in for the model (``fake_embedding``, as in
visualsearch/tests/test_photo_search_refine.py): the catalogue's vectors are made the same way,
so a product's own photo finds that product first."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shop.models import Product
from tests.support.catalogue import rows_and_photos, stored_catalogue
from visualsearch.index import reset_index
from visualsearch.tests.query.photos import fake_vector_of

pytestmark = pytest.mark.django_db

PHOTO = "/api/v1/search/photo"


def similar(client: Client, product: Product, **params: object):
    return client.get(f"/api/v1/products/{product.pk}/similar", params)


def test_find_similar_with_refinements(client: Client, catalogue: list[Product]) -> None:
    product = catalogue[0]
    body = similar(client, product, k=4).json()
    assert len(body["results"]) == 4 and product.pk not in {r["id"] for r in body["results"]}
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert body["model_version"]
    same = similar(client, product, k=10, same_gender="true").json()
    genders = {Product.objects.get(pk=r["id"]).gender for r in same["results"]}
    assert genders == {product.gender}
    assert same["filters"] == {"gender": product.gender}


def test_find_similar_in_stock_and_price_bounds(client: Client, catalogue: list[Product]) -> None:
    for p in catalogue[1:4]:
        p.variants.update(stock=0)
    body = similar(client, catalogue[0], k=50, in_stock="true").json()
    ids = {r["id"] for r in body["results"]}
    assert ids and not ids & {p.pk for p in catalogue[1:4]}
    assert all(r["in_stock"] for r in body["results"])
    bounded = similar(client, catalogue[0], k=3, min_price=700, max_price=1000).json()
    prices = [Decimal(r["price"]) for r in bounded["results"]]
    assert len(prices) == 3 and all(Decimal(700) <= p <= Decimal(1000) for p in prices)
    assert bounded["filters"]["min_price"] == 700 and bounded["filters"]["max_price"] == 1000


def test_find_similar_refuses_bad_input_in_the_envelope(client: Client, catalogue: list[Product]) -> None:
    response = similar(client, catalogue[0], k=0)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["fields"][0]["field"] == "query.k"
    assert similar(client, catalogue[0], in_stock="maybe").status_code == 400
    assert client.get("/api/v1/products/99999999/similar").status_code == 404


@pytest.fixture
def photo_catalogue(db, fake_model: None) -> list[Product]:
    vectors = [fake_vector_of(photo) for _row, photo in rows_and_photos(12)]
    products = stored_catalogue(12, vectors)
    for p in products:
        p.price = Decimal("999.00")
        p.save(update_fields=["price"])
    return products


def photo_of(product: Product) -> bytes:
    with product.image.open("rb") as handle:
        return handle.read()


def test_photo_search_then_refine_by_token(client: Client, photo_catalogue: list[Product]) -> None:
    product = photo_catalogue[5]
    upload = SimpleUploadedFile("look.jpg", photo_of(product), "image/jpeg")
    response = client.post(PHOTO, {"image": upload, "k": "4"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["results"][0]["id"] == product.pk and len(body["results"]) == 4
    assert body["close_match"] is True and body["token"] and body["token_expires_in"] > 0
    assert len(body["box"]) == 4
    # Refine: another gender, by token, no upload.
    other = next(p.gender for p in photo_catalogue if p.gender != product.gender)
    refined = client.get(PHOTO, {"q": body["token"], "gender": other, "k": 10})
    assert refined.status_code == 200
    ids = [r["id"] for r in refined.json()["results"]]
    assert ids and product.pk not in ids
    assert {Product.objects.get(pk=i).gender for i in ids} == {other}
    assert refined.json()["filters"]["gender"] == other


def test_photo_search_box_and_filters(client: Client, photo_catalogue: list[Product]) -> None:
    product = photo_catalogue[2]
    upload = SimpleUploadedFile("look.jpg", photo_of(product), "image/jpeg")
    response = client.post(PHOTO, {"image": upload, "box": "0,0,1,1", "type": product.article_type})
    assert response.status_code == 200
    body = response.json()
    assert body["box"] == [0.0, 0.0, 1.0, 1.0]
    assert {r["article_type"] for r in body["results"]} == {product.article_type}


def test_photo_search_refusals_in_the_envelope(client: Client, photo_catalogue: list[Product], settings) -> None:
    bad = client.post(PHOTO, {"image": SimpleUploadedFile("x.jpg", b"not an image", "image/jpeg")})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == 400
    box = client.post(
        PHOTO, {"image": SimpleUploadedFile("p.jpg", photo_of(photo_catalogue[0]), "image/jpeg"), "box": "1,1,0,0"}
    )
    assert box.status_code == 400
    expired = client.get(PHOTO, {"q": "a" * 40})
    assert expired.status_code == 410
    assert expired.json()["error"]["status"] == 410
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 1000
    big = client.post(PHOTO, {"image": SimpleUploadedFile("p.jpg", bytes(200_000), "image/jpeg")})
    assert big.status_code == 413
    assert big.json()["error"]["message"].startswith("The photo is too large")


def test_not_analysed_yet_is_409_and_an_empty_index_503(client: Client, make_product, fake_model: None) -> None:
    product = make_product()
    empty = similar(client, product)
    assert empty.status_code == 503
    assert "no analysed products yet" in empty.json()["error"]["message"]
    upload = SimpleUploadedFile("look.jpg", photo_of(product), "image/jpeg")
    assert client.post(PHOTO, {"image": upload}).status_code == 503
    stored_catalogue(3)  # saved in bulk: no change log entry, so the index is loaded afresh
    reset_index()
    pending = similar(client, product)
    assert pending.status_code == 409
    assert "still being analysed" in pending.json()["error"]["message"]


def test_photo_search_cheaper_than_the_best_match_and_a_max_price(
    client: Client, photo_catalogue: list[Product]
) -> None:
    for n, p in enumerate(photo_catalogue):
        p.price = Decimal(300 + 100 * n)
        p.save(update_fields=["price"])
    product = photo_catalogue[6]  # 900.00: six products are cheaper
    upload = SimpleUploadedFile("look.jpg", photo_of(product), "image/jpeg")
    body = client.post(PHOTO, {"image": upload, "k": "10", "cheaper": "true", "sort": "price"}).json()
    prices = [Decimal(r["price"]) for r in body["results"]]
    assert len(prices) == 6 and all(p < Decimal(900) for p in prices) and prices == sorted(prices)
    assert product.pk not in {r["id"] for r in body["results"]}
    assert body["filters"]["cheaper_than"] == 900.0 and body["close_match"] is True
    refined = client.get(PHOTO, {"q": body["token"], "max_price": "500", "k": 10}).json()
    assert sorted(Decimal(r["price"]) for r in refined["results"]) == [Decimal(300), Decimal(400), Decimal(500)]
