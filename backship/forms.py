"""The form of the BackShip list pages."""

from __future__ import annotations

from django import forms


class ShipmentFilterForm(forms.Form):
    """The deliveries' and returns' search (a GET form): a value that does not fit is named beside the field and
    ignored."""

    q = forms.CharField(label="Tracking number or order", required=False, max_length=120)

    def filters(self) -> dict[str, str]:
        if not self.is_bound or not self.is_valid():
            return {"q": ""}
        return {"q": self.cleaned_data["q"].strip()}
