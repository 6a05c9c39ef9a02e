"""The bag through the API: by token (add, update, remove, summary) and the browser session's
bag (``current``), whose writes need the CSRF token like the shop's forms."""

from __future__ import annotations

import pytest
from django.test import Client

from bag.models import Bag

pytestmark = pytest.mark.django_db


def _sizes(product) -> dict[str, int]:
    return {v.size: v.pk for v in product.variants.all()}


def test_a_token_bag_from_first_add_to_empty(client: Client, catalogue) -> None:
    created = client.post("/api/v1/bags")
    assert created.status_code == 201
    token = created.json()["token"]
    assert created.json()["lines"] == [] and created.json()["subtotal"] == "0.00"
    small = _sizes(catalogue[1])["S"]
    added = client.post(f"/api/v1/bags/{token}/lines", {"variant_id": small, "quantity": 2}, "application/json")
    assert added.status_code == 201
    body = added.json()
    assert (body["count"], body["subtotal"]) == (2, "1200.00")
    line = body["lines"][0]
    assert (line["product_id"], line["size"], line["unit_price"], line["line_total"]) == (
        catalogue[1].pk,
        "S",
        "600.00",
        "1200.00",
    )
    # More than in stock (3 of S): refused, the bag unchanged.
    refused = client.post(f"/api/v1/bags/{token}/lines", {"variant_id": small, "quantity": 2}, "application/json")
    assert refused.status_code == 409
    assert "can go in your bag" in refused.json()["error"]["message"]
    sold_out = client.post(f"/api/v1/bags/{token}/lines", {"variant_id": _sizes(catalogue[1])["M"]}, "application/json")
    assert sold_out.status_code == 409 and "sold out" in sold_out.json()["error"]["message"]
    # Change the size to One size, then the quantity, then remove.
    url = f"/api/v1/bags/{token}/lines/{line['id']}"
    changed = client.patch(url, {"quantity": 4, "variant_id": _sizes(catalogue[1])["One size"]}, "application/json")
    assert changed.status_code == 200
    assert [(x["size"], x["quantity"]) for x in changed.json()["lines"]] == [("One size", 4)]
    summary = client.get(f"/api/v1/bags/{token}").json()
    assert (summary["count"], summary["subtotal"], summary["token"]) == (4, "2400.00", token)
    removed = client.delete(url)
    assert removed.status_code == 200 and removed.json()["lines"] == []
    assert client.delete(url).status_code == 404


def test_an_unknown_token_is_404(client: Client) -> None:
    response = client.get("/api/v1/bags/bag_nope")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("No bag with that token")


def test_a_bag_token_holds_no_other_bag(client: Client, catalogue) -> None:
    """A line id of another bag is not found through this bag's token."""
    mine = client.post("/api/v1/bags").json()["token"]
    theirs = client.post("/api/v1/bags").json()["token"]
    added = client.post(f"/api/v1/bags/{theirs}/lines", {"variant_id": _sizes(catalogue[0])["S"]}, "application/json")
    line_id = added.json()["lines"][0]["id"]
    assert client.delete(f"/api/v1/bags/{mine}/lines/{line_id}").status_code == 404
    assert client.get(f"/api/v1/bags/{theirs}").json()["count"] == 1


def test_the_session_bag_needs_the_csrf_token_and_is_the_pages_bag(catalogue) -> None:
    browser = Client(enforce_csrf_checks=True)
    assert browser.get("/api/v1/bags/current").status_code == 200  # sets the CSRF cookie
    small = _sizes(catalogue[2])["S"]
    refused = browser.post("/api/v1/bags/current/lines", {"variant_id": small}, "application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith("CSRF check failed")
    assert Bag.objects.count() == 0
    token = browser.cookies["csrftoken"].value
    added = browser.post(
        "/api/v1/bags/current/lines", {"variant_id": small}, "application/json", HTTP_X_CSRFTOKEN=token
    )
    assert added.status_code == 201
    assert added.json()["token"] is None and added.json()["count"] == 1
    # The same bag as the shop's own pages.
    assert catalogue[2].name in browser.get("/bag/").content.decode()
    assert browser.get("/api/v1/bags/current").json()["count"] == 1


def test_a_new_session_has_an_empty_bag(client: Client) -> None:
    body = client.get("/api/v1/bags/current").json()
    assert (body["count"], body["lines"], body["token"]) == (0, [], None)


def test_keyed_clients_use_token_bags(client: Client, make_key) -> None:
    _, raw = make_key(scope_bag=True)
    response = client.get("/api/v1/bags/current", HTTP_X_API_KEY=raw)
    assert response.status_code == 403
    assert "POST /api/v1/bags" in response.json()["error"]["message"]


def test_a_bag_can_be_made_with_its_lines_all_or_none(client: Client, catalogue) -> None:
    sizes = _sizes(catalogue[4])
    made = client.post("/api/v1/bags", {"lines": [{"variant_id": sizes["S"], "quantity": 2}]}, "application/json")
    assert made.status_code == 201
    assert [(x["size"], x["quantity"]) for x in made.json()["lines"]] == [("S", 2)]
    before = Bag.objects.count()
    refused = client.post(
        "/api/v1/bags",
        {"lines": [{"variant_id": sizes["S"]}, {"variant_id": sizes["M"]}]},  # M is sold out
        "application/json",
    )
    assert refused.status_code == 409
    assert Bag.objects.count() == before  # no half-made bag
