"""The forms of connections: credentials (staff admin and the workspace), the workspace's connection pages
(owners) and the audit log's filters.

Every credential field is write-only: a PasswordInput that never renders a value; the only thing ever shown of a
stored credential is its hint (the last four characters). The workspace's forms do not offer the base URL: only
staff and ops may point a connection elsewhere."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from connections import services
from connections.models import MARKETPLACE_CHOICES, AuditEntry, Connection
from connections.selectors import connection_get, organization_list_for_user
from marketsync.forms import DayField, FilterForm, JSONField
from marketsync.marketplaces import CREDENTIAL_FIELDS, CredentialsError, Marketplace, validate_credentials

# Every credential field of any marketplace, in a stable order.
ALL_CREDENTIAL_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(f for fields in CREDENTIAL_FIELDS.values() for f in fields))

CREDENTIAL_LABELS = {
    "api_key": "API key",
    "consumer_key": "Consumer key",
    "consumer_secret": "Consumer secret",
    "token_value": "Token value",
    "token_secret": "Token secret",
}


def credential_field(name: str, *, required: bool, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=CREDENTIAL_LABELS.get(name, name),
        required=required,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _which_marketplaces(field: str) -> str:
    return ", ".join(m.label for m, fields in CREDENTIAL_FIELDS.items() if field in fields)


class CredentialsForm(forms.Form):
    """One password field per credential of a marketplace, all required (rotate credentials)."""

    def __init__(self, *args, marketplace: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.marketplace = Marketplace(marketplace)
        for name in CREDENTIAL_FIELDS[self.marketplace]:
            self.fields[name] = credential_field(name, required=True)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["credentials"] = validate_credentials(
                self.marketplace, {name: data.get(name, "") for name in CREDENTIAL_FIELDS[self.marketplace]}
            )
        except CredentialsError as exc:
            raise ValidationError(str(exc)) from None
        return data


class ConnectionAdminForm(forms.ModelForm):
    """Staff form for a connection. On add, the credential fields of every marketplace are offered and those of
    the chosen marketplace are required; on change, only the connection's own, all blank = keep the stored ones."""

    base_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Staff and ops only: a sandbox, a proxy or the local simulator (e.g. http://127.0.0.1:8765/refurbed).",
    )

    options = JSONField(required=False)  # the model's own, but refusing JSON nested too deep to parse

    class Meta:
        model = Connection
        fields = ["organization", "marketplace", "environment", "platform", "base_url", "enabled", "stock_push", "options"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        adding = self.instance.pk is None
        names = ALL_CREDENTIAL_FIELDS if adding else CREDENTIAL_FIELDS[Marketplace(self.instance.marketplace)]
        for name in names:
            help_text = f"For {_which_marketplaces(name)}." if adding else "Leave every credential blank to keep the stored ones."
            self.fields[name] = credential_field(name, required=False, help_text=help_text)

    @classmethod
    def credential_names(cls, obj: Connection | None) -> tuple[str, ...]:
        return ALL_CREDENTIAL_FIELDS if obj is None else CREDENTIAL_FIELDS[Marketplace(obj.marketplace)]

    def clean(self):
        data = super().clean()
        adding = self.instance.pk is None
        marketplace = data.get("marketplace") if adding else self.instance.marketplace
        if not marketplace:
            return data
        market = Marketplace(marketplace)
        given = {name: data.get(name) or "" for name in self.fields if name in ALL_CREDENTIAL_FIELDS}
        own = CREDENTIAL_FIELDS[market]
        stray = sorted(name for name, value in given.items() if value and name not in own)
        if stray:
            raise ValidationError(f"{', '.join(stray)} does not apply to {market.label}; it needs {', '.join(own)}.")
        data["credentials"] = None
        if adding or any(given.get(name) for name in own):
            try:
                data["credentials"] = validate_credentials(market, {name: given.get(name, "") for name in own})
            except CredentialsError as exc:
                raise ValidationError(str(exc)) from None
        try:
            services._check_settings(
                market,
                environment=data.get("environment") or self.instance.environment,
                base_url=(data.get("base_url") or "").strip(),
                platform=(data.get("platform") or "").strip().lower(),
                options=data.get("options") if data.get("options") is not None else {},
            )
        except services.LifecycleError as exc:
            raise ValidationError(str(exc)) from None
        organization = data.get("organization") if adding else self.instance.organization
        if adding and organization is not None:
            existing = connection_get(organization=organization, marketplace=market.value)
            if existing is not None:
                raise ValidationError(services._duplicate_message(organization, market, existing.pk))
        if not adding and data.get("enabled") and self.instance.credentials_wiped and not data["credentials"]:
            raise ValidationError("This connection's credentials were wiped: enter new credentials to enable it.")
        return data


# --- the workspace's connection pages ---------------------------------------------------------------------

PLATFORM_LABELS = {"eu": "Europe (eu)", "us": "United States (us)", "ap": "Asia-Pacific (ap)"}


class ConnectionCreateForm(CredentialsForm):
    """Connect one marketplace: its credential fields, the environment, and Back Market's platform."""

    environment = forms.ChoiceField(label="Environment", choices=Connection.Environment.choices, initial=Connection.Environment.PRODUCTION)

    def __init__(self, *args, marketplace: str, **kwargs):
        super().__init__(*args, marketplace=marketplace, **kwargs)
        if self.marketplace == Marketplace.BACKMARKET:
            self.fields["platform"] = forms.ChoiceField(
                label="Platform", choices=[(p, PLATFORM_LABELS[p]) for p in services.BACKMARKET_PLATFORMS], initial="eu"
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


class AuditFilterForm(FilterForm):
    """The audit log's filters (a GET form); an invalid value is shown beside its field and ignored."""

    marketplace = forms.ChoiceField(label="Marketplace", required=False, choices=[("", "All marketplaces"), *MARKETPLACE_CHOICES])
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any outcome"), *AuditEntry.Outcome.choices])
    q = forms.CharField(label="Search", required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Action, order or target id"}))
    date_from = DayField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = DayField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_range = ("date_from", "date_to")

    def filters(self) -> dict:
        """The filters given and valid; empty for the others."""
        data = self.valid_data()
        return {"marketplace": data.get("marketplace") or "", "outcome": data.get("outcome") or "",
                "q": (data.get("q") or "").strip(), "date_from": data.get("date_from"), "date_to": data.get("date_to")}


class EntitySyncToggleForm(forms.Form):
    """The on/off switch of one entity's sync on the connections page."""

    enabled = forms.TypedChoiceField(
        choices=[("1", "On"), ("0", "Off")], coerce=lambda value: value == "1",
        error_messages={"required": "Switch the sync on (1) or off (0).", "invalid_choice": "Switch the sync on (1) or off (0)."},
    )


class OrganizationSwitchForm(forms.Form):
    """The organization switcher in the page header: one of the user's organizations, and where to go back."""

    organization = forms.ModelChoiceField(queryset=None)  # the user's, set in __init__
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organization_list_for_user(user=user)
