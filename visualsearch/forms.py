from __future__ import annotations

from django import forms


class PhotoSearchForm(forms.Form):
    image = forms.FileField(
        label="Your photo",
        help_text="JPEG, PNG or WebP, up to 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
    )
    gender = forms.ChoiceField(required=False)
    master = forms.ChoiceField(required=False, label="Category")
    type = forms.ChoiceField(required=False, label="Article type")
    colour = forms.ChoiceField(required=False)

    def __init__(self, *args: object, choices: dict[str, list[str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name in ("gender", "master", "type", "colour"):
            self.fields[name].choices = [("", "Any")] + [(v, v) for v in choices.get(name, [])]
