"""The admin's forms: the product form (the uploaded image must really be an image we can
use; attribute values are chosen from the catalogue's, new ones only on purpose) and the
bulk import's upload form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.images import ImageRejected
from shop.importing.uploads import import_limits
from shop.models import Product, ProductImage
from shop.services import ATTRIBUTE_TEXT_FIELDS, AttributeSpellings, attribute_value_clean, attribute_values
from shop.thumbnails import image_validate


class DatalistTextInput(forms.TextInput):
    """A text input that offers the given values (an HTML ``<datalist>``): staff pick an
    existing value or, deliberately, type a new one."""

    def __init__(self, values: list[str] | None = None, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.values = values or []

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        list_id = f"{(attrs or {}).get('id') or f'id_{name}'}_values"
        attrs = {**(attrs or {}), "list": list_id, "autocomplete": "off"}
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((v,) for v in self.values))
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


class ProductAdminForm(forms.ModelForm):
    allow_new_values = forms.BooleanField(
        label="Add new attribute values",
        required=False,
        help_text="Tick to add a value the catalogue does not have yet (e.g. a new colour). Values that differ "
        "from an existing one only in case or spaces always become the existing one (“men ” → “Men”).",
    )

    class Meta:
        model = Product
        fields = (
            "name",
            "external_id",
            "price",
            "compare_at_price",
            "is_active",
            "image",
            "gender",
            "master_category",
            "sub_category",
            "article_type",
            "base_colour",
            "season",
            "year",
            "usage",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spellings = AttributeSpellings()
        for name in ATTRIBUTE_TEXT_FIELDS:
            field = self.fields.get(name)
            if field is not None:
                field.widget = DatalistTextInput(attribute_values(name), attrs=field.widget.attrs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        self._clean_sale(cleaned)
        allow_new = cleaned.get("allow_new_values")
        for name in ATTRIBUTE_TEXT_FIELDS:
            if name not in self.fields or name not in cleaned:
                continue
            value = cleaned[name] or ""
            existing = self.spellings.existing(name, value)
            if existing is not None:
                cleaned[name] = existing
                continue
            value = attribute_value_clean(value)
            cleaned[name] = value
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            if not value or value == current or allow_new or not self.spellings.has_values(name):
                continue  # empty (the field's own rule), unchanged, on purpose, or the first value
            label = str(self.fields[name].label or name).lower()
            hint = self.spellings.suggestions(name, value)
            did_you_mean = f" Did you mean {' or '.join(f'“{h}”' for h in hint)}?" if hint else ""
            self.add_error(
                name,
                f"“{value}” is not {indefinite_article(label)} {label} of the catalogue yet.{did_you_mean} "
                "Pick one from the list, or tick “Add new attribute values” to add it.",
            )
        return cleaned

    def _clean_sale(self, cleaned: dict[str, Any]) -> None:
        """A compare-at price only above the price (the model's constraint, said on the field)."""
        compare_at, price = cleaned.get("compare_at_price"), cleaned.get("price")
        if compare_at is None or "price" in self.errors:
            return
        if price is None:
            self.add_error("compare_at_price", "Set the price too: a compare-at price is the former price of a sale.")
        elif compare_at <= price:
            self.add_error(
                "compare_at_price",
                f"The compare-at price must be above the price ({price}): it is the former price, shown struck "
                "through. Leave it empty when the product is not on sale.",
            )

    def clean_image(self):
        return staff_image_clean(self, "image")


def staff_image_clean(form: forms.BaseForm, field: str) -> Any:
    """An uploaded staff image must decode as the thumbnail and the worker will decode it
    (``shop.thumbnails.image_validate``: formats, pixel limits); the reason otherwise."""
    image = form.cleaned_data.get(field)
    upload = form.files.get(form.add_prefix(field))
    if upload is not None:
        upload.seek(0)
        try:
            image_validate(upload.read())
        except ImageRejected as exc:
            raise forms.ValidationError(str(exc)) from None
        finally:
            upload.seek(0)
    return image


class ProductImageForm(forms.ModelForm):
    """One of a product's more images in the admin's inline, with "Make main image"."""

    make_main = forms.BooleanField(
        label="Make main",
        required=False,
        help_text="Swap with the main image: shown first, on cards, and what find similar uses.",
    )

    class Meta:
        model = ProductImage
        fields = ("image", "alt_text", "position")

    def clean_image(self):
        return staff_image_clean(self, "image")


class ImportUploadForm(forms.Form):
    """The admin's bulk import: the CSV (the import's columns) and a zip of the images."""

    csv_file = forms.FileField(
        label="CSV file",
        help_text="Columns: id, gender, masterCategory, subCategory, articleType, baseColour, season, year, usage, "
        "productDisplayName (and optionally price; compare_at_price, the former price of a sale; and images: more "
        "photos of the product, file names in the zip separated by “;”), as in the catalogue's styles.csv.",
    )
    images_zip = forms.FileField(
        label="Images (zip)",
        required=False,
        help_text="A zip of the photos, each named <id>.jpg, and the more photos the images column names "
        "(folders inside the zip are fine). "
        "Without it, only rows whose products already exist are updated; new rows need their photo.",
    )
    compute_embeddings = forms.BooleanField(
        label="Compute embeddings", required=False, initial=True, help_text="Queue visual search for new photos."
    )

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError("Upload a .csv file.")
        return upload

    def clean_images_zip(self):
        upload = self.cleaned_data.get("images_zip")
        if upload is None:
            return None
        limit = import_limits()["MAX_ZIP_BYTES"]
        if upload.size > limit:
            raise forms.ValidationError(f"The zip is {upload.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.")
        return upload


def indefinite_article(noun: str) -> str:
    """ "an" before a vowel sound ("an article type", "an occasion"), "a" otherwise."""
    return "an" if noun[:1].lower() in {"a", "e", "i", "o", "u"} else "a"
