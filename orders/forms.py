from __future__ import annotations

from django import forms


class OrderLookupForm(forms.Form):
    """A guest's order number and e-mail (as on the confirmation e-mail)."""

    number = forms.RegexField(
        regex=r"\A\s*[A-Za-z0-9-]{1,32}\s*\Z",
        max_length=40,
        label="Order number",
        help_text="As on your confirmation e-mail, e.g. LA-261207-4F2A9C.",
        error_messages={"invalid": "Order numbers are letters, digits and dashes, e.g. LA-261207-4F2A9C."},
    )
    email = forms.EmailField(label="Email", help_text="The address you ordered with.")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["number"].widget.attrs.update({"autocomplete": "off", "autocapitalize": "characters"})
        self.fields["email"].widget.attrs["autocomplete"] = "email"
