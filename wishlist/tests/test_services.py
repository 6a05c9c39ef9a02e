"""wishlist.services and selectors: a guest's list in the session, a customer's in the
database, idempotent saves, the limit, and the merge at login (the real login view)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from core.errors import InvalidInput, NotFound
from wishlist.models import WishlistItem
from wishlist.selectors import wishlist_ids, wishlist_products
from wishlist.services import wishlist_login_merge, wishlist_set

pytestmark = pytest.mark.django_db


def _request(user=None):
    request = RequestFactory().post("/")
    request.session = SessionStore()
    request.user = user or AnonymousUser()
    return request


def test_a_guest_list_lives_in_the_session_newest_first(make_product) -> None:
    a, b = make_product(), make_product()
    request = _request()
    assert wishlist_set(request, a.pk, True) is True
    assert wishlist_set(request, b.pk, True) is True
    assert wishlist_set(request, a.pk, True) is True  # twice: still once, now newest
    assert wishlist_ids(request) == [a.pk, b.pk]
    assert wishlist_set(request, b.pk, False) is False
    assert wishlist_set(request, b.pk, False) is False
    assert [p.pk for p in wishlist_products(request)] == [a.pk]
    assert not WishlistItem.objects.exists()


def test_a_customer_list_is_stored_and_hides_products_no_longer_sold(make_product, django_user_model) -> None:
    user = django_user_model.objects.create_user("asha", "asha@example.com", "pw")
    a, b = make_product(), make_product()
    request = _request(user)
    wishlist_set(request, a.pk, True)
    wishlist_set(request, b.pk, True)
    wishlist_set(request, b.pk, True)
    assert WishlistItem.objects.filter(user=user).count() == 2
    b.is_active = False
    b.save()
    assert [p.pk for p in wishlist_products(_request(user))] == [a.pk]


def test_unknown_products_and_a_full_list_are_refused(make_product, settings) -> None:
    settings.WISHLIST_MAX_ITEMS = 1
    request = _request()
    with pytest.raises(NotFound):
        wishlist_set(request, 999999, True)
    wishlist_set(request, make_product().pk, True)
    with pytest.raises(InvalidInput, match="full"):
        wishlist_set(request, make_product().pk, True)


def test_the_session_list_is_merged_into_the_customer_list(make_product, django_user_model) -> None:
    user = django_user_model.objects.create_user("ravi", "ravi@example.com", "pw")
    kept, both, new = make_product(), make_product(), make_product()
    WishlistItem.objects.create(user=user, product=kept)
    WishlistItem.objects.create(user=user, product=both)
    guest = _request()
    wishlist_set(guest, both.pk, True)
    wishlist_set(guest, new.pk, True)
    assert wishlist_login_merge(guest, user) == 1
    assert wishlist_ids(guest) == []  # the session's list is emptied, it lives in the database now
    saved = set(WishlistItem.objects.filter(user=user).values_list("product_id", flat=True))
    assert saved == {kept.pk, both.pk, new.pk}


def test_logging_in_keeps_the_guest_wishlist(client, make_product, django_user_model) -> None:
    django_user_model.objects.create_user("meera", "meera@example.com", "secret-pw-123")
    product = make_product(name="Saved Before Login")
    client.post(reverse("wishlist:toggle", args=[product.pk]), {"change": "add"})
    response = client.post(reverse("accounts:login"), {"username": "meera", "password": "secret-pw-123"})
    assert response.status_code == 302
    assert list(WishlistItem.objects.values_list("user__username", "product_id")) == [("meera", product.pk)]
    assert "Saved Before Login" in client.get(reverse("wishlist:page")).content.decode()
