from __future__ import annotations

from django import forms

from visualsearch.conf import vs_settings


class PhotoSearchForm(forms.Form):
    image = forms.FileField(
        label="Your photo",
        help_text="JPEG, PNG or WebP.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )
    gender = forms.ChoiceField(required=False)
    master = forms.ChoiceField(required=False, label="Category")
    sub = forms.ChoiceField(required=False, label="Sub category")
    type = forms.ChoiceField(required=False, label="Article type")
    colour = forms.ChoiceField(required=False)

    def __init__(self, *args: object, choices: dict[str, list[str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        limit_mb = vs_settings.MAX_UPLOAD_BYTES / 1e6
        self.fields["image"].help_text = f"JPEG, PNG or WebP, up to {limit_mb:.0f} MB."
        for name in ("gender", "master", "sub", "type", "colour"):
            self.fields[name].choices = [("", "Any")] + [(v, v) for v in choices.get(name, [])]
