"""The forms of the Back Market listing pages: the list's filters, a listing's update, the bulk CSV upload."""

from __future__ import annotations

from django import forms

from connections.selectors import connection_list
from listings import selectors
from listings.writes import INTEGER_MAX, PRICE_MAX, QUANTITY_MIN, WARRANTY_MIN
from marketsync.forms import FilterForm, FlagField
from marketsync.marketplaces import Marketplace

CSV_MAX_BYTES = 20 * 1024 * 1024


class ListingFilterForm(FilterForm):
    """The listing list's filters (a GET form): an invalid value is shown beside its field and ignored."""

    publication_state = forms.ChoiceField(required=False, choices=[("", "Any state")])
    q = forms.CharField(required=False, max_length=120, label="SKU or title")
    removed = FlagField(label="Show removed listings")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publication_state"].choices = [("", "Any state")] + selectors.publication_state_choices()

    def filters(self) -> dict:
        """The valid filters, as ``listings.selectors.listing_page`` takes them."""
        data = self.valid_data()
        return {"publication_state": data.get("publication_state") or "", "q": (data.get("q") or "").strip(),
                "include_removed": bool(data.get("removed"))}


class ListingUpdateForm(forms.Form):
    """A listing's update; the bounds mirror ``listings.writes`` (the one check, which the admin and CLI share), so
    the browser can say so before sending."""

    price = forms.DecimalField(required=False, min_value=0.01, max_value=PRICE_MAX, decimal_places=2, max_digits=14)
    min_price = forms.DecimalField(required=False, min_value=0.01, max_value=PRICE_MAX, decimal_places=2, max_digits=14,
                                   label="Minimum price")
    quantity = forms.IntegerField(required=False, min_value=QUANTITY_MIN, max_value=INTEGER_MAX,
                                  help_text="0 takes the listing offline.")
    warranty_delay = forms.IntegerField(required=False, min_value=WARRANTY_MIN, max_value=INTEGER_MAX, label="Warranty (months)")
    comment = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class BulkUploadForm(forms.Form):
    connection = forms.ModelChoiceField(queryset=None, empty_label=None)  # the organization's, set in __init__
    file = forms.FileField(label="CSV file")
    delimiter = forms.ChoiceField(choices=[(",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), ("|", "pipe |")])
    quotechar = forms.ChoiceField(choices=[('"', 'double quote "'), ("'", "single quote '")], label="Quote character")
    encoding = forms.ChoiceField(choices=[("utf-8", "UTF-8"), ("latin-1", "Latin-1"), ("cp1252", "Windows-1252")])

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connection_list(organization=organization, marketplace=Marketplace.BACKMARKET)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:  # refused before it is read into memory
            raise forms.ValidationError("The file is larger than 20 MB.")
        return upload

    def clean(self):
        """The file's text (``content``), decoded with the chosen encoding."""
        data = super().clean()
        upload, encoding = data.get("file"), data.get("encoding")
        if upload is not None and encoding:
            try:
                data["content"] = upload.read().decode(encoding)
            except UnicodeDecodeError as exc:
                self.add_error("encoding", f"The file is not {encoding}: {exc.reason} at byte {exc.start}.")
        return data
