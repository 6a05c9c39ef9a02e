"""The bag's forms: every value a shopper posts to the bag, parsed with bounds (a size is a
whole number, a quantity a whole number in a small range); anything else is a message."""

from __future__ import annotations

from django import forms

from bag.conf import bag_settings

CHOOSE_A_SIZE = "Choose a size from the list."
# Far above any real quantity; the services refuse more than BAG_MAX_QUANTITY_PER_LINE.
QUANTITY_BOUND = 10_000
# The primary key columns are 64-bit.
ID_BOUND = 2**63 - 1


class BagLineForm(forms.Form):
    """``variant`` (a size's id) and ``quantity``; ``variant_required``: bag add needs a size,
    a line update keeps its own when none is sent."""

    variant = forms.IntegerField(
        min_value=1,
        max_value=ID_BOUND,
        required=False,
        error_messages={"invalid": CHOOSE_A_SIZE, "min_value": CHOOSE_A_SIZE, "max_value": CHOOSE_A_SIZE},
    )
    quantity = forms.IntegerField(min_value=0, max_value=QUANTITY_BOUND, required=False)

    def __init__(self, *args: object, variant_required: bool, default_quantity: int = 1, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.variant_required = variant_required
        self.default_quantity = default_quantity

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or self.cleaned_data
        if self.variant_required and "variant" not in self.errors and not cleaned.get("variant"):
            self.add_error("variant", "Please choose a size.")
        if cleaned.get("quantity") is None and "quantity" not in self.errors:
            cleaned["quantity"] = self.default_quantity
        return cleaned

    @property
    def message(self) -> str:
        """The first refusal, for the page's message."""
        for name in ("variant", "quantity"):
            if name in self.errors:
                if name == "quantity":
                    return f"Choose a quantity between 0 and {bag_settings.MAX_QUANTITY_PER_LINE}."
                return str(self.errors[name][0])
        return ""
