"""The exact match, even when sold out: a photo of a sold-out product finds that product and
shows it first, labelled sold out with "Notify me", with the in-stock lookalikes under it;
"in stock only" filters the alternatives, never the match. Real catalogue photos through the
real model (slow); the page and the JSON APIs (/api/v1/search/photo, /api/search/photo)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from shop.models import Product, ProductVariant
from shop.services import catalogue_changes_announce
from tests.support.catalogue import embedded_catalogue
from visualsearch.index import get_index

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CARD_ID = re.compile(r'<article class="card" data-product-id="(\d+)">')


@pytest.fixture
def embedded(make_product: Callable[..., Product]) -> list[Product]:
    """12 real catalogue products embedded with the real model, each with stock; the fourth
    then sold out (announced, as every stock change is)."""
    products = embedded_catalogue(make_product, 12)
    ProductVariant.objects.filter(product=products[3]).update(stock=0)
    catalogue_changes_announce([products[3].pk])
    get_index().ensure_fresh()
    return products


def phone_photo(product: Product) -> bytes:
    """The product's picture as a phone sees a screen: enlarged, a little cropped, re-encoded."""
    with product.image.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read())).convert("RGB")
    w, h = image.size
    image = image.crop((2, 3, w - 2, h - 2)).resize((w * 4, h * 4), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def photo_page(client: Client, sold_out: Product, fields: dict[str, str]) -> tuple[str, str, str]:
    """Photo search's page for a phone photo of the sold-out product: the whole page, the
    exact-match block (asserted to be "We found it: Sold out" with that product's card alone)
    and the rest of the results."""
    upload = SimpleUploadedFile("p.jpg", phone_photo(sold_out))
    response = client.post("/search/photo/", {"image": upload, **fields})
    assert response.status_code == 200
    html = response.content.decode()
    section = html.split('<section class="similar-results">', 1)[1]
    exact, _, rest = section.partition("</section>")
    assert "We found it" in exact and "Sold out" in exact
    assert CARD_ID.findall(exact) == [str(sold_out.pk)]
    return html, exact, rest


def test_a_sold_out_photographed_product_is_shown_first_with_notify_me(client: Client, embedded) -> None:
    sold_out = embedded[3]
    html, exact, rest = photo_page(client, sold_out, {"in_stock": "on"})
    assert "Notify me when it" in exact and f'action="/notify/{sold_out.pk}/"' in exact
    # The refine URL "Notify me" comes back to: this search again, without the photo.
    assert re.search(r'name="next" value="/search/photo/\?q=[\w-]+&amp;in_stock=on"', exact)
    others = [int(pk) for pk in CARD_ID.findall(rest)]
    assert "More that look like it, in stock" in rest
    assert others and sold_out.pk not in others
    assert all(Product.objects.get(pk=pk).in_stock for pk in others)
    # The exact match comes before the lookalikes on the page.
    assert html.index('class="exact-match"') < html.index('class="grid grid-similar"')


def test_without_in_stock_only_the_sold_out_match_is_still_apart_with_notify_me(client: Client, embedded) -> None:
    """With "in stock only" off, the sold-out match is not a plain first card (no way to be told when
    it is back) but the same block, first, with "Notify me", and not shown twice."""
    sold_out = embedded[3]
    _html, exact, rest = photo_page(client, sold_out, {})
    assert f'action="/notify/{sold_out.pk}/"' in exact
    others = [int(pk) for pk in CARD_ID.findall(rest)]
    assert "More that look like it</h2>" in rest
    assert len(others) == 4 and sold_out.pk not in others


def test_the_api_gives_the_exact_match_apart_from_the_in_stock_results(client: Client, embedded) -> None:
    sold_out = embedded[3]
    photo = phone_photo(sold_out)
    body = client.post("/api/v1/search/photo", {"image": SimpleUploadedFile("p.jpg", photo), "in_stock": "true"}).json()
    assert body["exact_match"]["id"] == sold_out.pk
    assert body["exact_match"]["in_stock"] is False and body["exact_match"]["exact"] is True
    assert body["results"] and all(row["in_stock"] and not row["exact"] for row in body["results"])
    assert sold_out.pk not in [row["id"] for row in body["results"]]
    # Without "in stock only", the match is also the first result, flagged.
    body = client.post("/api/v1/search/photo", {"image": SimpleUploadedFile("p.jpg", photo)}).json()
    assert body["results"][0]["id"] == sold_out.pk and body["results"][0]["exact"] is True
    assert body["exact_match"]["id"] == sold_out.pk
    # Refining by token keeps the exact match.
    refined = client.get("/api/v1/search/photo", {"q": body["token"], "in_stock": "true"}).json()
    assert refined["exact_match"]["id"] == sold_out.pk


def test_the_unversioned_api_gives_the_exact_match_too(client: Client, embedded) -> None:
    sold_out = embedded[3]
    photo = phone_photo(sold_out)
    body = client.post("/api/search/photo", {"image": SimpleUploadedFile("p.jpg", photo), "in_stock": "true"}).json()
    assert body["exact_match"]["id"] == sold_out.pk and body["exact_match"]["in_stock"] is False
    assert body["items"][0]["exact_match"]["id"] == sold_out.pk
    assert sold_out.pk not in [row["id"] for row in body["results"]]
    # The same answer as /api/v1/ (the versioned one adds its ``exact`` flags).
    versioned = client.post(
        "/api/v1/search/photo", {"image": SimpleUploadedFile("p.jpg", photo), "in_stock": "true"}
    ).json()
    assert [row["id"] for row in body["results"]] == [row["id"] for row in versioned["results"]]


def test_nothing_like_a_product_has_no_exact_match(client: Client, embedded) -> None:
    gradient = np.linspace(0, 255, 320 * 240 * 3).reshape(240, 320, 3).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(gradient).save(out, "JPEG")
    body = client.post("/api/v1/search/photo", {"image": SimpleUploadedFile("g.jpg", out.getvalue())}).json()
    assert body["exact_match"] is None and not any(row["exact"] for row in body["results"])
    legacy = client.post("/api/search/photo", {"image": SimpleUploadedFile("g.jpg", out.getvalue())}).json()
    assert legacy["exact_match"] is None
    html = client.post("/search/photo/", {"image": SimpleUploadedFile("g.jpg", out.getvalue())}).content.decode()
    assert "We found it" not in html
