"""Partners' keys: stored hashed and shown once, scoped, revocable, their last use noted, and
each key's rate limit its own (through core.ratelimit), apart from anonymous clients'."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiKey
from api.services import api_key_revoke

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products"


@pytest.fixture
def limits(settings) -> Iterator[None]:
    """Rate limits on, small, counted in a fresh per-test cache."""
    settings.RATELIMIT_ENABLED = True
    settings.API_KEY_RATE = "3/m"
    settings.API_ANONYMOUS_RATE = "2/m"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    yield


def test_the_key_is_stored_hashed_and_works_in_the_header(client: Client, make_key) -> None:
    key, raw = make_key()
    assert raw.startswith("lk_") and len(raw) > 40
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.hashed_key, stored.prefix, stored.name}
    assert raw.startswith(stored.prefix)
    assert stored.last_used is None
    response = client.get(PRODUCTS, HTTP_X_API_KEY=raw)
    assert response.status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used is not None


def test_a_revoked_key_is_refused(client: Client, make_key) -> None:
    key, raw = make_key()
    assert client.get(PRODUCTS, HTTP_X_API_KEY=raw).status_code == 200
    api_key_revoke(key)
    response = client.get(PRODUCTS, HTTP_X_API_KEY=raw)
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "This API key has been revoked.", "status": 401}}
    # Anonymous use still works: the key is refused, not the client.
    assert client.get(PRODUCTS).status_code == 200


def test_an_unknown_key_is_refused(client: Client) -> None:
    response = client.get(PRODUCTS, HTTP_X_API_KEY="lk_not-a-key")
    assert response.status_code == 401
    assert "Unknown API key" in response.json()["error"]["message"]


def test_a_key_without_the_bag_scope_cannot_use_bags(client: Client, make_key) -> None:
    _, read_only = make_key(scope_bag=False)
    response = client.post("/api/v1/bags", HTTP_X_API_KEY=read_only)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key does not have the “bag” scope."
    _, bag_key = make_key(scope_read=False, scope_bag=True)
    assert client.post("/api/v1/bags", HTTP_X_API_KEY=bag_key).status_code == 201
    assert client.get(PRODUCTS, HTTP_X_API_KEY=bag_key).status_code == 403


def test_a_keyed_clients_limit_is_its_own(limits: None, make_key) -> None:
    """Three clients at one address: key A (3/m), key B (its own 5/m) and anonymous (2/m).
    Each runs out of its own budget only."""
    _, key_a = make_key("A")
    _, key_b = make_key("B", rate_limit="5/m")
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert [client.get(PRODUCTS, HTTP_X_API_KEY=key_a).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [client.get(PRODUCTS, HTTP_X_API_KEY=key_b).status_code for _ in range(6)] == [200] * 5 + [429]
    assert [client.get(PRODUCTS).status_code for _ in range(3)] == [200, 200, 429]
    # Key A from another address is still out of budget: the key is counted, not the address.
    refused = Client(REMOTE_ADDR="198.51.100.9").get(PRODUCTS, HTTP_X_API_KEY=key_a)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["status"] == 429
    assert "Too many requests" in refused.json()["error"]["message"]
    # ... and that address's anonymous budget is untouched.
    assert Client(REMOTE_ADDR="198.51.100.9").get(PRODUCTS).status_code == 200


def test_anonymous_searches_keep_todays_limits(limits: None, settings, catalogue) -> None:
    settings.RATELIMITS = {**settings.RATELIMITS, "similar_api": "2/m"}
    client = Client(REMOTE_ADDR="203.0.113.8")
    url = f"/api/v1/products/{catalogue[0].pk}/similar"
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
    # The unversioned path shares the budget (the same group and client).
    assert client.get(f"/api/products/{catalogue[0].pk}/similar").status_code == 429


def test_staff_create_a_key_in_the_admin_and_see_it_once(client: Client) -> None:
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)
    response = client.post(
        "/admin/api/apikey/add/",
        {"name": "iOS app", "scope_read": "on", "scope_bag": "on", "rate_limit": "100/m"},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="iOS app")
    assert key.created_by == staff and key.scopes == ["read", "bag"]
    page = response.content.decode()
    shown = page.split("<code>")[1].split("</code>")[0]
    assert hashlib.sha256(shown.encode()).hexdigest() == key.hashed_key
    assert "will not be shown again" in page
    # The list and the key's own page never show it again.
    assert shown not in client.get("/admin/api/apikey/").content.decode()
    assert shown not in client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert Client().get(PRODUCTS, HTTP_X_API_KEY=shown).status_code == 200
    # Revoking from the list.
    response = client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert "1 key revoked." in response.content.decode()
    assert Client().get(PRODUCTS, HTTP_X_API_KEY=shown).status_code == 401
    assert "revoked" in client.get("/admin/api/apikey/").content.decode()
    assert "iOS app" not in client.get("/admin/api/apikey/?state=active").content.decode()
    assert "iOS app" in client.get("/admin/api/apikey/?state=revoked").content.decode()
