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
