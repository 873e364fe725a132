"""Forms for entering credentials. Every credential field is write-only: a PasswordInput that never renders a
value; the only thing ever shown of a stored credential is its hint (the last four characters)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from connections import services
from connections.models import Connection
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

    class Meta:
        model = Connection
        fields = ["organization", "marketplace", "environment", "platform", "base_url", "enabled", "options"]

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
            existing = Connection.objects.filter(organization=organization, marketplace=market.value).first()
            if existing is not None:
                raise ValidationError(services._duplicate_message(organization, market, existing.pk))
        if not adding and data.get("enabled") and self.instance.credentials_wiped and not data["credentials"]:
            raise ValidationError("This connection's credentials were wiped: enter new credentials to enable it.")
        return data
