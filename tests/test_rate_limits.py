"""Rate limits (core/ratelimit.py) and the admin login lockout (django-axes).

Photo search (page and API share one budget), the find-similar API and the admin sign-in
are limited per client: over the limit they answer 429 with Retry-After, JSON under /api/
and templates/429.html otherwise; other clients are unaffected. The client is REMOTE_ADDR,
or behind our proxy the X-Forwarded-For address the proxy added. Counters live in the
"ratelimit" cache: Redis in production (one test runs on the real Redis), and when that
cache cannot be reached requests go through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from core import ratelimit
from core.ratelimit import Rate, client_key, hit
from tests.support.servers import free_port

PAGE = "/search/photo/"
API = "/api/search/photo"
SIMILAR_API = "/api/products/999999/similar"
LOGIN = "/admin/login/"


@pytest.fixture
def limits(settings) -> Iterator[dict[str, str]]:
    """Rate limits on, small, counted in a fresh per-test cache."""
    settings.RATELIMIT_ENABLED = True
    settings.RATELIMITS = {"photo_search": "3/m", "similar_api": "4/m", "login": "3/m", "accounts": "2/m"}
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    yield settings.RATELIMITS


def client_at(address: str, **extra: str) -> Client:
    return Client(REMOTE_ADDR=address, **extra)


def _assert_429(response, *, api: bool) -> int:
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert retry_after == 10  # the seconds left in the (pinned) minute window
    if api:
        body = json.loads(response.content)
        assert body["error"]["status"] == 429
        assert "Too many requests; please try again in" in body["error"]["message"]
    else:
        assert response["Content-Type"].startswith("text/html")
        page = response.content.decode()
        assert "That was a lot of requests" in page
        assert "Please try again in" in page
    return retry_after


@pytest.mark.django_db
def test_photo_search_page_and_api_share_a_per_client_limit(limits) -> None:
    attacker = client_at("203.0.113.5")
    # Three searches pass the limiter (no photo attached: the view itself answers 400).
    for _ in range(3):
        assert attacker.post(API).status_code == 400
    _assert_429(attacker.post(API), api=True)
    # The page shares the budget: a friendly page, not JSON.
    _assert_429(attacker.post(PAGE), api=False)
    # Looking at the form is not counted.
    assert attacker.get(PAGE).status_code == 200

    # Another client is unaffected.
    other = client_at("203.0.113.6")
    assert other.post(API).status_code == 400
    assert other.post(PAGE).status_code in (400, 403)  # no photo / no CSRF token: not 429


@pytest.mark.django_db
def test_photo_search_page_limit_counts_before_the_upload_is_read(limits) -> None:
    attacker = client_at("198.51.100.7")
    for _ in range(3):
        attacker.post(PAGE)
    # Even a huge declared upload is answered 429 without being read.
    response = attacker.post(PAGE, data=b"x" * 10, content_type="multipart/form-data; boundary=x")
    _assert_429(response, api=False)


@pytest.mark.django_db
def test_find_similar_api_is_limited(limits) -> None:
    attacker = client_at("203.0.113.9")
    for _ in range(4):
        assert attacker.get(SIMILAR_API).status_code == 404
    _assert_429(attacker.get(SIMILAR_API), api=True)
    assert client_at("203.0.113.10").get(SIMILAR_API).status_code == 404


@pytest.mark.django_db
def test_admin_login_is_limited_per_client(limits, django_user_model) -> None:
    attacker = client_at("203.0.113.20")
    for n in range(3):
        response = attacker.post(LOGIN, {"username": f"guess{n}", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    _assert_429(attacker.post(LOGIN, {"username": "guess9", "password": "wrong"}), api=False)
    # The sign-in form itself still shows.
    assert attacker.get(LOGIN).status_code == 200

    django_user_model.objects.create_superuser("boss", "boss@example.com", "right-password-123")
    other = client_at("203.0.113.21")
    response = other.post(LOGIN, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_shop_sign_in_shares_the_login_limit(limits, django_user_model) -> None:
    attacker = client_at("203.0.113.25")
    for n in range(2):
        assert attacker.post("/account/login/", {"username": f"guess{n}", "password": "wrong"}).status_code == 200
    assert attacker.post(LOGIN, {"username": "guess2", "password": "wrong"}).status_code == 200
    _assert_429(attacker.post("/account/login/", {"username": "guess3", "password": "wrong"}), api=False)
    assert attacker.get("/account/login/").status_code == 200
    django_user_model.objects.create_user("shopper", "s@example.com", "right-password-123")
    other = client_at("203.0.113.26")
    assert other.post("/account/login/", {"username": "shopper", "password": "right-password-123"}).status_code == 302


@pytest.mark.django_db
def test_limits_are_off_when_disabled(limits, settings) -> None:
    settings.RATELIMIT_ENABLED = False
    attacker = client_at("203.0.113.30")
    assert all(attacker.post(API).status_code == 400 for _ in range(6))


@pytest.mark.django_db
def test_behind_the_proxy_the_client_is_the_address_it_forwarded(limits, settings) -> None:
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = "10.0.0.2"
    # The proxy appends the client's address; whatever the client put in front is ignored.
    alice = client_at(proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.10")
    bob = client_at(proxy, HTTP_X_FORWARDED_FOR="192.0.2.11")
    for _ in range(3):
        assert alice.post(API).status_code == 400
    _assert_429(alice.post(API), api=True)
    # Spoofing another leftmost address does not give alice a fresh budget...
    assert client_at(proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 192.0.2.10").post(API).status_code == 429
    # ... and bob, behind the same proxy, has his own.
    assert bob.post(API).status_code == 400


@pytest.mark.django_db
def test_without_the_proxy_setting_x_forwarded_for_is_ignored(limits, settings) -> None:
    settings.BEHIND_PROXY = False
    for n in range(3):
        assert client_at("203.0.113.40", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(API).status_code == 400
    # A new X-Forwarded-For on each request does not reset the count.
    assert client_at("203.0.113.40", HTTP_X_FORWARDED_FOR="192.0.2.99").post(API).status_code == 429


def test_ipv6_clients_are_counted_per_64(settings) -> None:
    class Request:
        META = {"REMOTE_ADDR": "2001:db8:1:2:aaaa::1"}

    other = type("Request", (), {"META": {"REMOTE_ADDR": "2001:db8:1:2:bbbb::7"}})
    assert client_key(Request()) == client_key(other()) == "2001:db8:1:2::/64"  # type: ignore[arg-type]


def test_fixed_window_counts_and_retry_after(settings) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex},
    }
    rate = Rate.parse("2/m")
    assert [hit("g", "k", rate, now=600.0), hit("g", "k", rate, now=610.0)] == [0, 0]
    assert hit("g", "k", rate, now=645.5) == 15  # 14.5 s left in the window, rounded up
    assert hit("g", "k", rate, now=660.0) == 0  # a new window


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20/m", Rate(20, 60)), ("100/h", Rate(100, 3600)), ("5/30s", Rate(5, 30)), (" 1/d ", Rate(1, 86400))],
)
def test_rate_parsing(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "20", "20/x", "abc/m", "0/m", "5/0s"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Bad rate"):
        Rate.parse(text)


@pytest.mark.django_db
def test_limits_count_in_redis(limits, settings) -> None:
    """The production backend: Django's RedisCache on REDIS_URL, shared by every process."""
    redis_url = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-rl-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    from django.core.cache import caches

    try:
        caches["ratelimit"].set("ping", 1, 5)
    except Exception as exc:  # a machine without what CI has: say so, never skip
        pytest.fail(f"this test needs Redis at {redis_url} (set REDIS_URL, start redis-server): {exc}", pytrace=False)
    attacker = client_at("203.0.113.50")
    for _ in range(3):
        assert attacker.post(API).status_code == 400
    _assert_429(attacker.post(API), api=True)
    assert client_at("203.0.113.51").post(API).status_code == 400


@pytest.mark.django_db
def test_requests_go_through_when_the_rate_limit_cache_is_down(limits, settings, caplog) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    attacker = client_at("203.0.113.60")
    assert all(attacker.post(API).status_code == 400 for _ in range(5))
    assert "rate limits not checked for 5 s (cache unavailable" in caplog.text
    # One try per CACHE_RETRY_SECONDS, not one per request (a frozen Redis costs 0.5 s a try).
    assert caplog.text.count("rate limits not checked") == 1


@pytest.fixture(autouse=True)
def _cache_assumed_up_and_clock_pinned(monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "_cache_down_until", 0.0)
    # 10 s before the end of a minute window, for every request of the test: a real
    # minute boundary mid-test would start a fresh window.
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_000_010.0)


# --- Admin login lockout (django-axes) --------------------------------------------------


@pytest.mark.django_db
def test_axes_locks_the_admin_login_after_repeated_failures(settings, django_user_model) -> None:
    assert settings.AXES_ENABLED
    django_user_model.objects.create_superuser("boss", "boss@example.com", "right-password-123")
    attacker = client_at("203.0.113.70")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attacker.post(LOGIN, {"username": "boss", "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    locked = attacker.post(LOGIN, {"username": "boss", "password": "wrong"})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert "Too many failed sign-in attempts" in locked.content.decode()

    # Locked: even the right password is refused from there ...
    response = attacker.post(LOGIN, {"username": "boss", "password": "right-password-123"})
    assert response.status_code == 429
    assert "_auth_user_id" not in attacker.session
    # ... while the account can still sign in from elsewhere.
    elsewhere = client_at("203.0.113.71")
    assert elsewhere.post(LOGIN, {"username": "boss", "password": "right-password-123"}).status_code == 302
    assert elsewhere.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_force_login_and_a_good_password_still_work_with_axes(client, django_user_model) -> None:
    staff = django_user_model.objects.create_superuser("clerk", "clerk@example.com", "right-password-123")
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    fresh = Client()
    assert fresh.post(LOGIN, {"username": "clerk", "password": "right-password-123"}).status_code == 302


@pytest.mark.django_db
def test_sign_up_and_password_reset_are_limited_per_client(limits: dict[str, str]) -> None:
    """They create accounts and send email: 2 a minute per client here, then 429."""
    client = client_at("203.0.113.50")
    answers = [
        client.post("/account/password-reset/", {"email": f"someone{i}@example.com"}).status_code for i in range(3)
    ]
    assert answers[:2] == [302, 302] and answers[2] == 429
    signup = client_at("203.0.113.51")
    codes = [signup.post("/account/signup/", {"username": ""}).status_code for _ in range(3)]
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert client_at("203.0.113.52").post("/account/password-reset/", {"email": "a@example.com"}).status_code == 302
