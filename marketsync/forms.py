"""What the apps' forms share."""

from __future__ import annotations

from django import forms


class FilterForm(forms.Form):
    """A list page's filters (a GET form). A value that does not fit is named beside its field and left out, so
    the list still shows; an unbound form (no query) filters nothing."""

    def valid_data(self) -> dict:
        """The fields given and valid, cleaned; a field in error is absent."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}


FLAG_ON = ("1", "true", "on")


class FlagInput(forms.CheckboxInput):
    def value_from_datadict(self, data, files, name) -> bool:
        return str(data.get(name, "")).strip().lower() in FLAG_ON


class FlagField(forms.BooleanField):
    """A yes/no switch of a query string, as the pages have always read one: on for ``1``, ``true`` or ``on``
    (what a checkbox sends), off for anything else (``0`` too, which a plain BooleanField reads as on)."""

    widget = FlagInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)
