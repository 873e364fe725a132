"""The form of the BackShip list pages."""

from __future__ import annotations

from django import forms

from marketsync.forms import FilterForm


class ShipmentFilterForm(FilterForm):
    """The deliveries' and returns' search (a GET form): a value that does not fit is named beside the field and
    ignored."""

    q = forms.CharField(label="Tracking number or order", required=False, max_length=120)

    def filters(self) -> dict[str, str]:
        return {"q": (self.valid_data().get("q") or "").strip()}
