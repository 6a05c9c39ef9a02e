"""One spelling per attribute value: the product form offers the catalogue's values (a
datalist), matches what staff type to them case- and space-insensitively ("men " → "Men"),
and adds a new value only when staff tick "Add new attribute values". The import spells
values the same way."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from shop.forms import ProductAdminForm
from shop.importing.catalogue import catalogue_import
from shop.models import Product
from shop.services import AttributeSpellings, attribute_value_clean
from tests.support.catalogue import catalogue_rows, write_catalogue
from tests.support.images import image_bytes
from tests.support.products import admin_product_form

pytestmark = pytest.mark.django_db


def _post(client: Client, **overrides: object):
    upload = SimpleUploadedFile("photo.jpg", image_bytes(), content_type="image/jpeg")
    return client.post(reverse("admin:shop_product_add"), admin_product_form(upload, **overrides))


@pytest.mark.parametrize(
    ("raw", "clean"), [("  Navy   Blue ", "Navy Blue"), ("Men", "Men"), ("\tmen\n", "men"), ("", ""), (None, "")]
)
def test_values_are_trimmed_and_whitespace_collapsed(raw, clean):
    assert attribute_value_clean(raw) == clean


def test_the_form_offers_the_catalogues_values(admin_client: Client, make_product):
    make_product(gender="Men", base_colour="Navy Blue"), make_product(gender="Women", base_colour="Red")
    content = admin_client.get(reverse("admin:shop_product_add")).content.decode()
    assert 'list="id_gender_values"' in content
    assert '<datalist id="id_gender_values"><option value="Men"><option value="Women"></datalist>' in content
    assert '<option value="Navy Blue">' in content
    assert 'name="allow_new_values"' in content


def test_typed_values_become_the_existing_spelling(admin_client: Client, make_product):
    make_product(gender="Men", base_colour="Navy Blue", usage="Casual")
    response = _post(admin_client, name="Typed", gender="men ", base_colour="  navy   BLUE", usage="CASUAL")
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(name="Typed")
    assert (product.gender, product.base_colour, product.usage) == ("Men", "Navy Blue", "Casual")
    assert set(Product.objects.values_list("gender", flat=True)) == {"Men"}


def test_a_new_value_needs_the_tick_and_is_normalised(admin_client: Client, make_product):
    make_product(gender="Men")
    response = _post(admin_client, name="New", gender="Mens")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["gender"]
    assert errors == [
        "“Mens” is not a gender of the catalogue yet. Did you mean “Men”? "
        "Pick one from the list, or tick “Add new attribute values” to add it."
    ]
    assert not Product.objects.filter(name="New").exists()
    response = _post(admin_client, name="New", gender="Men", article_type="Tshirtz")
    assert (
        response.context["adminform"]
        .form.errors["article_type"][0]
        .startswith("“Tshirtz” is not an article type of the catalogue yet. Did you mean “Tshirts”?")
    )

    response = _post(admin_client, name="New", gender="  Non   binary ", allow_new_values="on")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Product.objects.get(name="New").gender == "Non binary"


def test_editing_keeps_a_products_own_value_and_an_empty_catalogue_takes_any(make_product):
    form = ProductAdminForm(data={})  # nothing in the catalogue yet: any first value is fine
    assert not form.spellings.has_values("gender")
    legacy = make_product(gender="Unisex-ish")
    make_product(gender="Men")
    data = {**admin_product_form(None), "name": legacy.name, "gender": "Unisex-ish"}
    data.pop("image")
    form = ProductAdminForm(data=data, instance=legacy)
    assert form.is_valid(), form.errors


def test_the_import_spells_values_like_the_catalogue(tmp_path, make_product):
    make_product(gender="Men", base_colour="Navy Blue")
    rows = catalogue_rows(3)
    rows[0]["gender"], rows[0]["baseColour"] = "men", " NAVY  blue "
    rows[1]["gender"], rows[1]["baseColour"] = "Kids  ", "Sea green"
    rows[2]["gender"], rows[2]["baseColour"] = "kids", "sea Green"  # the first spelling in this run wins
    result = catalogue_import(write_catalogue(tmp_path / "cat", rows), announce_images=False)
    assert result.created == 3, result.skip_reasons
    got = {p.external_id: (p.gender, p.base_colour) for p in Product.objects.exclude(external_id=None)}
    assert got == {
        rows[0]["id"]: ("Men", "Navy Blue"),
        rows[1]["id"]: ("Kids", "Sea green"),
        rows[2]["id"]: ("Kids", "Sea green"),
    }


def test_the_most_used_spelling_wins(make_product):
    make_product(gender="men")
    make_product(gender="Men"), make_product(gender="Men")
    spellings = AttributeSpellings()
    assert spellings.canonical("gender", "MEN") == "Men"
    assert spellings.existing("gender", "Martian") is None
    assert spellings.suggestions("gender", "Mne") == ["Men"]
