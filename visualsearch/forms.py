"""The photo search form: the photo (or the token of an earlier search, ``q``), the region to
search (``box``), and one optional filter per searchable attribute."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from core.errors import InvalidInput
from shop import labels
from shop.attributes import SEARCHABLE_ATTRIBUTES
from visualsearch.conf import vs_settings
from visualsearch.query.photo import Box, parse_box
from visualsearch.query.pricing import CHEAPER_PARAM, LOOK, MAX_PRICE_PARAM, SORT_PARAM, SORTS, PriceRule
from visualsearch.selectors import IN_STOCK_LABEL, IN_STOCK_PARAM


class PhotoSearchForm(forms.Form):
    # The page offers two inputs of this name: "Take a photo" (capture: the back camera) and
    # "Choose from gallery" (no capture, which on many phones would hide the gallery).
    image = forms.FileField(
        label="Your photo",
        help_text="JPEG, PNG or WebP.",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    # The token of an earlier search: refining re-ranks its kept embedding, no photo needed.
    q = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    # The region to search, x0,y0,x1,y1 in 0–1 (the crop tool fills it; empty: the default box).
    box = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    # Which item of the photo the results show (0: the most confident; tapping an outline).
    item = forms.IntegerField(required=False, min_value=0, max_value=99, widget=forms.HiddenInput)

    def __init__(self, *args: Any, choices: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_mb = vs_settings.MAX_UPLOAD_BYTES / 1e6
        self.fields["image"].help_text = f"JPEG, PNG or WebP, up to {limit_mb:.0f} MB."
        for attribute in SEARCHABLE_ATTRIBUTES:
            self.fields[attribute.param] = forms.ChoiceField(
                required=False,
                label=labels.attribute_label(attribute.param, attribute.label),
                choices=[("", "Any")]
                + [(v, labels.value_label(v, attribute.param)) for v in choices.get(attribute.param, [])],
            )

        self.fields[IN_STOCK_PARAM] = forms.BooleanField(required=False, initial=True, label=IN_STOCK_LABEL)
        self.fields[CHEAPER_PARAM] = forms.BooleanField(
            required=False, label="Cheaper than the best match", help_text="Only products priced below it."
        )
        self.fields[MAX_PRICE_PARAM] = forms.DecimalField(
            required=False,
            label="Up to",
            min_value=0,
            max_value=Decimal("99999999.99"),
            decimal_places=2,
            help_text="Your highest price.",
            widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "1", "min": "0"}),
        )
        self.fields[SORT_PARAM] = forms.ChoiceField(
            required=False, label="Sort by", choices=list(SORTS.items()), initial=LOOK
        )

    def clean_box(self) -> Box | None:
        try:
            return parse_box(self.cleaned_data.get("box"))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("image") and not cleaned.get("q") and "image" not in self.errors:
            self.add_error("image", "Choose a photo to search with: a photo is required.")
        return cleaned

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[attribute.param] for attribute in SEARCHABLE_ATTRIBUTES]

    def price_rule(self) -> PriceRule | None:
        """The valid form's price rule ("cheaper than the best match", "up to", sort); None
        when it asks nothing of the price."""
        data = self.cleaned_data
        rule = PriceRule(
            cheaper=bool(data.get(CHEAPER_PARAM)),
            max_price=data.get(MAX_PRICE_PARAM),
            sort=data.get(SORT_PARAM) or LOOK,
        )
        return rule if rule.restricts or rule.sort != LOOK else None
