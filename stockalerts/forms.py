"""The "Notify me" form: an e-mail address and, for a product with sizes, which size (any)."""

from __future__ import annotations

from typing import Any

from django import forms

from shop.models import Product, ProductVariant


def _size_label(variant: ProductVariant) -> str:
    return variant.size


class NotifyForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail",
        max_length=254,
        error_messages={"required": "Please give your e-mail address.", "invalid": "Please check your e-mail address."},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.com"}),
    )
    size = forms.ModelChoiceField(
        label="Size",
        queryset=ProductVariant.objects.none(),
        required=False,
        empty_label="Any size",
        error_messages={"invalid_choice": "Please choose one of the sold-out sizes."},
    )

    def __init__(self, *args: Any, product: Product, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.product = product
        field = self.fields["size"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ProductVariant.objects.filter(product=product, stock=0).order_by("sort_order", "id")
        field.label_from_instance = _size_label  # type: ignore[method-assign,assignment]
        if product.variant_list and len(product.variant_list) <= 1:
            del self.fields["size"]
