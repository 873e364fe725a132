"""The forms of the inventory pages: the stock list's search and an item's manual adjustment."""

from __future__ import annotations

from django import forms

from connections.models import MARKETPLACE_CHOICES
from inventory.models import StockMovement
from inventory.services import ADJUST_LIMIT, REASON_MAX
from marketsync.forms import DayField, FilterForm, FlagField


class InventoryFilterForm(FilterForm):
    """The stock list's search (a GET form): a value that does not fit is named beside its field and ignored."""

    part = forms.CharField(label="Part", required=False, max_length=120,
                           widget=forms.TextInput(attrs={"type": "search", "placeholder": "3001 or name"}))
    color = forms.CharField(label="Colour", required=False, max_length=120,
                            widget=forms.TextInput(attrs={"type": "search", "placeholder": "Red or 5"}))
    location = forms.CharField(label="Location", required=False, max_length=120,
                               widget=forms.TextInput(attrs={"type": "search", "placeholder": "A01"}))
    marketplace = forms.ChoiceField(label="Sold on", required=False, choices=[("", "Any marketplace"), *MARKETPLACE_CHOICES])
    problems = FlagField(label="Problems only (negative or drift)")
    negative = FlagField(label="Negative available only")
    drift = FlagField(label="Drifting only")

    def filters(self) -> dict:
        """The valid filters, as ``inventory.selectors.inventory_item_page`` takes them."""
        data = self.valid_data()
        return {"part": (data.get("part") or "").strip(), "color": (data.get("color") or "").strip(),
                "location": (data.get("location") or "").strip(), "drift_only": bool(data.get("drift")),
                "negative_only": bool(data.get("negative")), "problems_only": bool(data.get("problems")),
                "marketplace": data.get("marketplace") or ""}


class UnmatchedFilterForm(FilterForm):
    """The unmatched order items' search (a GET form)."""

    q = forms.CharField(label="Search", required=False, max_length=120,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Order id, part, SKU or name"}))
    marketplace = forms.ChoiceField(label="Marketplace", required=False, choices=[("", "All marketplaces"), *MARKETPLACE_CHOICES])

    def filters(self) -> dict:
        data = self.valid_data()
        return {"q": (data.get("q") or "").strip(), "marketplace": data.get("marketplace") or ""}


class LedgerFilterForm(FilterForm):
    """The whole ledger's filters (a GET form): an impossible day, or a "to" before the "from", is named."""

    q = forms.CharField(label="Search", required=False, max_length=120,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Part, SKU, order id or reason"}))
    kind = forms.ChoiceField(label="Movement", required=False, choices=[("", "Every movement"), *StockMovement.Kind.choices])
    date_from = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = DayField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_range = ("date_from", "date_to")

    def filters(self) -> dict:
        data = self.valid_data()
        return {"q": (data.get("q") or "").strip(), "kind": data.get("kind") or "", "date_from": data.get("date_from"),
                "date_to": data.get("date_to")}


class InventoryAdjustForm(forms.Form):
    """A manual correction of an item's on-hand quantity (the service checks the rest: not 0, a reason)."""

    delta = forms.IntegerField(
        label="Change", min_value=-ADJUST_LIMIT, max_value=ADJUST_LIMIT,
        error_messages={"invalid": "The change must be a whole number, e.g. -3 or 5.",
                        "required": "The change must be a whole number, e.g. -3 or 5."},
        widget=forms.NumberInput(attrs={"step": "1", "placeholder": "-3"}),
    )
    reason = forms.CharField(label="Reason", max_length=REASON_MAX,
                             error_messages={"required": "A reason is required for a manual stock adjustment."},
                             widget=forms.TextInput(attrs={"placeholder": "recounted the bin"}))

    def error_text(self) -> str:
        """Every error, each after its field's label: for the message shown on the item page."""
        return " ".join(f"{self.fields[name].label}: {' '.join(errors)}" for name, errors in self.errors.items())


class StockLinkForm(forms.Form):
    """An owner's change of one lot's, listing's or offer's link: to a stock item, none, or a new SKU item."""

    ACTIONS = (("link", "Link to stock item"), ("unlink", "Unlink"), ("create", "Create a stock item from it"))

    connection = forms.IntegerField(min_value=1, max_value=2**62, error_messages={
        "invalid": "Connection: a connection id is a whole number.", "required": "Connection: which connection?"})
    external_id = forms.CharField(label="Marketplace id", max_length=80)
    action = forms.ChoiceField(choices=ACTIONS)
    item = forms.IntegerField(label="Stock item id", required=False, min_value=1, max_value=2**62,
                              error_messages={"invalid": "The stock item id is a whole number, e.g. 42."})
    sku = forms.CharField(label="SKU of the new item", required=False, max_length=256)
    next = forms.CharField(required=False, max_length=500)

    def clean(self):
        data = super().clean()
        if data.get("action") == "link" and not data.get("item"):
            self.add_error("item", "Which stock item? Give its id (shown on its page).")
        return data

    def error_text(self) -> str:
        return " ".join(
            f"{self.fields[name].label or name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
            for name, errors in self.errors.items()
        )
