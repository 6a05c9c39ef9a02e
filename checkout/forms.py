from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms


class DetailsForm(forms.Form):
    email = forms.EmailField(help_text="Your confirmation goes here.")
    full_name = forms.CharField(max_length=150, label="Full name")
    address_line1 = forms.CharField(max_length=200, label="Address")
    address_line2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    city = forms.CharField(max_length=100)
    postcode = forms.CharField(max_length=20, label="Postcode / PIN")
    country = forms.CharField(max_length=60, initial="India")
    phone = forms.CharField(max_length=30, required=False, help_text="For the courier, optional.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        autocomplete = {
            "email": "email",
            "full_name": "name",
            "address_line1": "address-line1",
            "address_line2": "address-line2",
            "city": "address-level2",
            "postcode": "postal-code",
            "country": "country-name",
            "phone": "tel",
        }
        for name, value in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = value


class ShippingForm(forms.Form):
    method = forms.ChoiceField(widget=forms.RadioSelect, label="Delivery")

    def __init__(self, *args: Any, methods: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        """``methods``: the delivery options offered, as (code, name)."""
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["method"]).choices = list(methods)


class ReviewForm(forms.Form):
    """The review page's "place order" post: the checkout's key (as checkout_idempotency_key
    makes it: 32 hexadecimal characters, a fixed alphabet and length) and the total the
    shopper saw (finite, within the order total's column: 12 digits, 2 after the point)."""

    idempotency_key = forms.RegexField(regex=r"\A[0-9a-f]{32}\Z", max_length=32)
    expected_total = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
