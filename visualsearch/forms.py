"""The photo search form: the photo, and one optional filter per searchable attribute."""

from __future__ import annotations

from typing import Any

from django import forms

from shop.attributes import SEARCHABLE_ATTRIBUTES
from visualsearch.conf import vs_settings
from visualsearch.selectors import IN_STOCK_LABEL, IN_STOCK_PARAM


class PhotoSearchForm(forms.Form):
    image = forms.FileField(
        label="Your photo",
        help_text="JPEG, PNG or WebP.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )

    def __init__(self, *args: Any, choices: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_mb = vs_settings.MAX_UPLOAD_BYTES / 1e6
        self.fields["image"].help_text = f"JPEG, PNG or WebP, up to {limit_mb:.0f} MB."
        for attribute in SEARCHABLE_ATTRIBUTES:
            self.fields[attribute.param] = forms.ChoiceField(
                required=False,
                label=attribute.label,
                choices=[("", "Any")] + [(v, v) for v in choices.get(attribute.param, [])],
            )

        self.fields[IN_STOCK_PARAM] = forms.BooleanField(required=False, initial=True, label=IN_STOCK_LABEL)

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[attribute.param] for attribute in SEARCHABLE_ATTRIBUTES]
