"""Forms of the merchant workspace's connection pages (owners). Credentials are write-only fields
(``connections.forms.CredentialsForm``: PasswordInput, never rendered back); the base URL is not offered:
only staff and ops may point a connection elsewhere."""

from __future__ import annotations

from django import forms

from connections.forms import CredentialsForm
from connections.models import MARKETPLACE_CHOICES, AuditEntry, Connection
from connections.services import BACKMARKET_PLATFORMS
from marketsync.marketplaces import Marketplace

PLATFORM_LABELS = {"eu": "Europe (eu)", "us": "United States (us)", "ap": "Asia-Pacific (ap)"}


class ConnectionCreateForm(CredentialsForm):
    """Connect one marketplace: its credential fields, the environment, and Back Market's platform."""

    environment = forms.ChoiceField(label="Environment", choices=Connection.Environment.choices, initial=Connection.Environment.PRODUCTION)

    def __init__(self, *args, marketplace: str, **kwargs):
        super().__init__(*args, marketplace=marketplace, **kwargs)
        if self.marketplace == Marketplace.BACKMARKET:
            self.fields["platform"] = forms.ChoiceField(
                label="Platform", choices=[(p, PLATFORM_LABELS[p]) for p in BACKMARKET_PLATFORMS], initial="eu"
            )
        self.order_fields([*(f for f in self.fields if f not in ("environment", "platform")), "environment", "platform"])


class DisconnectForm(forms.Form):
    wipe_credentials = forms.BooleanField(
        label="Also erase the stored API key (you will enter it again to reconnect)", required=False
    )


class DeleteConnectionForm(forms.Form):
    confirm = forms.CharField(label="Type the marketplace name to confirm", max_length=40)

    def __init__(self, *args, connection: Connection, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection
        self.fields["confirm"].help_text = f"Type “{connection.marketplace_label}”."

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value.casefold() != self.connection.marketplace_label.casefold():
            raise forms.ValidationError(f"Type “{self.connection.marketplace_label}” exactly to delete this connection.")
        return value


class AuditFilterForm(forms.Form):
    """The audit log's filters (a GET form); an invalid value is shown beside its field and ignored."""

    marketplace = forms.ChoiceField(label="Marketplace", required=False, choices=[("", "All marketplaces"), *MARKETPLACE_CHOICES])
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any outcome"), *AuditEntry.Outcome.choices])

    def filters(self) -> dict[str, str]:
        """The filters given and valid; "" for the others."""
        if not self.is_bound:
            return dict.fromkeys(self.fields, "")
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}
