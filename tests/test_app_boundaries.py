"""The shop stands on its own: with visual search not installed, its pages render, and the
places visual search fills (find similar, search by photo) are simply absent."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

WITHOUT_VISUALSEARCH = [app for app in settings.INSTALLED_APPS if app != "visualsearch"]


def test_catalogue_and_product_pages_render_without_visualsearch(make_product) -> None:
    product = make_product(name="Blue Denim Jacket")
    with override_settings(INSTALLED_APPS=WITHOUT_VISUALSEARCH, ROOT_URLCONF="tests.support.urls_without_visualsearch"):
        client = Client()
        catalogue = client.get("/")
        page = client.get(f"/products/{product.pk}/")
    assert catalogue.status_code == 200 and "Blue Denim Jacket" in catalogue.content.decode()
    assert page.status_code == 200 and "Blue Denim Jacket" in page.content.decode()
    for response in (catalogue, page):
        body = response.content.decode()
        assert "Find similar" not in body and "Search by photo" not in body


def test_with_visualsearch_installed_the_hooks_render_its_links(make_product) -> None:
    product = make_product(name="Blue Denim Jacket")
    body = Client().get(f"/products/{product.pk}/").content.decode()
    assert f"/products/{product.pk}/similar/" in body and "Search by photo" in body


def test_the_shop_renders_without_the_wishlist_and_the_alerts(make_product, settings) -> None:
    """Wishlist and back-in-stock alerts only render into the shop's hooks."""
    from core.templatetags.hooks import _hook_templates
    from shop.models import ProductVariant

    product = make_product(name="Sold Out Denim")
    ProductVariant.objects.create(product=product, size="M", stock=0)
    with_them = Client().get(f"/products/{product.pk}/").content.decode()
    assert "Save Sold Out Denim to your wishlist" in with_them and "Notify me when it" in with_them
    _hook_templates.cache_clear()
    try:
        apps = [app for app in settings.INSTALLED_APPS if app not in {"wishlist", "stockalerts"}]
        with override_settings(INSTALLED_APPS=apps):
            for url in ("/", f"/products/{product.pk}/"):
                body = Client().get(url).content.decode()
                assert "Sold Out Denim" in body
                assert "wishlist" not in body.lower() and "Notify me" not in body
    finally:
        _hook_templates.cache_clear()
