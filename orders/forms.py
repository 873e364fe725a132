from __future__ import annotations

from django import forms

from connections.models import MARKETPLACE_CHOICES, Organization
from connections.selectors import connection_list
from marketsync.forms import DayField, FilterForm, FlagField, MomentField
from marketsync.keyset import CursorForm
from marketsync.sync.records import UnifiedStatus
from orders.selectors import STATUS_TABS, OrderFilters
from orders.writes import INVOICE_MAX_BYTES

SORT_CHOICES = [("newest", "Newest first"), ("oldest", "Oldest first"), ("ship_by", "Ship by, soonest first")]


class OrderFilterForm(FilterForm):
    """The order book's filters (a GET form). Invalid values are reported beside their field and ignored."""

    q = forms.CharField(
        label="Search", required=False, max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Order id, customer, SKU, part, tracking"}),
    )
    marketplace = forms.ChoiceField(label="Marketplace", required=False, choices=[("", "All marketplaces"), *MARKETPLACE_CHOICES])
    connection = forms.TypedChoiceField(label="Connection", required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label="Status", required=False)
    date_from = DayField(label="Placed from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = DayField(label="Placed to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_range = ("date_from", "date_to")
    sort = forms.ChoiceField(label="Sort", required=False, choices=SORT_CHOICES)

    def __init__(self, *args, organization: Organization | None, **kwargs):
        super().__init__(*args, **kwargs)
        connections = connection_list(organization=organization) if organization else []
        self.fields["connection"].choices = [("", "All connections")] + [
            (c.pk, f"{c.marketplace_label} #{c.pk}") for c in connections
        ]
        tab_values = [(key, label) for key, label, _ in STATUS_TABS]
        single = [(v, label) for v, label in UnifiedStatus.choices if v not in dict(tab_values)]
        self.fields["status"].choices = [("", "All statuses"), *tab_values, *single]

    def to_filters(self) -> OrderFilters:
        """The valid part of the input as filters (an invalid field is left out, its error shown)."""
        data = self.valid_data()
        return OrderFilters(
            marketplace=data.get("marketplace") or "",
            status=data.get("status") or "",
            connection_id=data.get("connection") or None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=(data.get("q") or "").strip(),
            oldest_first=data.get("sort") == "oldest",
            ship_by_first=data.get("sort") == "ship_by",
        )


class OrderBookPageForm(CursorForm):
    """Which part of the order book to draw: the pager's cursors, and ``partial=rows`` for the rows alone (htmx)."""

    partial = forms.ChoiceField(required=False, choices=[("", "the page"), ("rows", "the rows only")])

    def rows_only(self) -> bool:
        self.is_valid()
        return self.cleaned_data.get("partial") == "rows"


class OrderPollForm(forms.Form):
    """The live cue's question: what changed since this moment (an ISO date-time with its offset)."""

    since = MomentField()


class OrderExportForm(forms.Form):
    items = FlagField(label="One row per item")


# --- Fulfilment actions on the order page: parsed here, checked in full by ``orders.fulfilment`` (one check for
# pages, admin and CLI), so these forms set no limits of their own.


class OrderlineIdentifiersForm(forms.Form):
    imei = forms.CharField(label="IMEI", required=False)
    serial_number = forms.CharField(label="Serial number", required=False)


class OrderShipForm(forms.Form):
    carrier = forms.CharField(label="Carrier", required=False)
    tracking_number = forms.CharField(label="Tracking number", required=False)
    tracking_url = forms.CharField(label="Tracking URL", required=False)
    drive_thru = FlagField(label="Send BrickLink's drive-thru message")
    shipper = forms.CharField(label="Shipper", required=False)  # the first Back Market form's name for the carrier

    def clean(self):
        cleaned = super().clean()
        cleaned["carrier"] = cleaned.get("carrier") or cleaned.pop("shipper", "") or ""
        cleaned.pop("shipper", None)
        return cleaned


class OrderInvoiceForm(forms.Form):
    invoice = forms.FileField(label="Invoice (PDF)", error_messages={"required": "Choose the invoice PDF to upload."})

    def clean_invoice(self):
        upload = self.cleaned_data["invoice"]
        if upload.size > INVOICE_MAX_BYTES:  # refused before it is read into memory
            raise forms.ValidationError("The invoice is larger than 10 MB.")
        return upload


class OrderSelectionForm(forms.Form):
    """Which orders a bulk action is for: the ticked ones (``ids``, repeated) or a whole tab (``tab=ready``)."""

    tab = forms.ChoiceField(required=False, choices=[("", ""), ("ready", "Ready to ship")])

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        if any(not value.isdigit() or len(value) > 18 for value in raw):
            raise forms.ValidationError("The selection holds something that is not an order.")
        data["ids"] = [int(value) for value in raw]
        if not data["ids"] and not data.get("tab"):
            raise forms.ValidationError("Select orders first (tick them in the order list).")
        return data


class ShipFileForm(forms.Form):
    """A CSV of orders to ship: marketplace,order_id,carrier,tracking_number[,tracking_url]."""

    file = forms.FileField(label="CSV file")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 2 MB: split it.")
        return upload
