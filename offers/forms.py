"""The forms of the offer pages: the offer list's filters and the reference data page's look-ups."""

from __future__ import annotations

from django import forms

from connections.models import Organization
from marketsync.forms import FilterForm, FlagField
from offers import selectors

CATEGORY_TYPES = [("ELECTRONICS", "Electronics"), ("SPORTS", "Sports"), ("KIDS", "Kids")]
LANGUAGES = [("EN", "English"), ("DE", "German")]


class UpperChoiceField(forms.ChoiceField):
    """A choice typed in any case (``electronics`` is ``ELECTRONICS``)."""

    def to_python(self, value):
        return super().to_python(value).strip().upper()


class OfferFilterForm(FilterForm):
    """The offer list's filters (a GET form): an invalid value is named beside its field and ignored."""

    q = forms.CharField(label="Search", required=False, max_length=120,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Offer id, SKU or product"}))
    state = forms.ChoiceField(label="State", required=False)
    removed = FlagField(label="Show removed offers")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "All states")] + [(s, s) for s in selectors.offer_states(organization=organization)]

    def filters(self) -> dict:
        """The valid filters, as ``offers.selectors.offer_page`` takes them (an organization has one Refurbed
        connection, so no connection filter)."""
        data = self.valid_data()
        return {"state": data.get("state") or "", "include_removed": bool(data.get("removed")),
                "q": (data.get("q") or "").strip()}


class MarketOfferFilterForm(FilterForm):
    """The market offers list's filters (a GET form)."""

    q = forms.CharField(label="Search", required=False, max_length=120,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Offer id or SKU"}))
    market_code = forms.ChoiceField(label="Market", required=False)
    visibility = forms.ChoiceField(label="Visibility", required=False)
    removed = FlagField(label="Show removed")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        used = selectors.market_offer_choices(organization=organization)
        self.fields["market_code"].choices = [("", "All markets")] + [(c, c) for c in used["market_code"]]
        self.fields["visibility"].choices = [("", "Any visibility")] + [(v, v) for v in used["visibility"]]

    def filters(self) -> dict:
        data = self.valid_data()
        return {"q": (data.get("q") or "").strip(), "market_code": data.get("market_code") or "",
                "visibility": data.get("visibility") or "", "include_removed": bool(data.get("removed"))}


class ReferenceLookupForm(FilterForm):
    """What to look up live at Refurbed: an instance, and catalog templates of a category type."""

    instance = forms.CharField(label="Instance id", required=False, max_length=20,
                               widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    category_type = UpperChoiceField(label="Catalog templates", required=False, choices=[("", "—"), *CATEGORY_TYPES])
    lang = UpperChoiceField(label="Language", required=False, choices=LANGUAGES)

    def lookups(self) -> dict[str, str]:
        """The valid look-ups ("" for none)."""
        data = self.valid_data()
        return {"instance": (data.get("instance") or "").strip(), "category_type": data.get("category_type") or "",
                "lang": data.get("lang") or "EN"}
