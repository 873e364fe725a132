"""What each marketplace is, independent of Django: entities it syncs and credentials it needs."""

from __future__ import annotations

import re
from enum import StrEnum


class Marketplace(StrEnum):
    REFURBED = "refurbed"
    BACKMARKET = "backmarket"
    BRICKLINK = "bricklink"
    BRICKOWL = "brickowl"

    @property
    def label(self) -> str:
        return MARKETPLACE_LABELS[self]


MARKETPLACE_LABELS = {
    Marketplace.REFURBED: "Refurbed",
    Marketplace.BACKMARKET: "Back Market",
    Marketplace.BRICKLINK: "BrickLink",
    Marketplace.BRICKOWL: "Brick Owl",
}


class Entity(StrEnum):
    ORDERS = "orders"
    OFFERS = "offers"
    MARKET_OFFERS = "market_offers"
    LISTINGS = "listings"
    DELIVERIES = "deliveries"
    RETURNS = "returns"
    INVENTORY = "inventory"


SUPPORTED_ENTITIES: dict[Marketplace, tuple[Entity, ...]] = {
    Marketplace.REFURBED: (Entity.ORDERS, Entity.OFFERS, Entity.MARKET_OFFERS),
    Marketplace.BACKMARKET: (Entity.ORDERS, Entity.LISTINGS, Entity.DELIVERIES, Entity.RETURNS),
    Marketplace.BRICKLINK: (Entity.ORDERS, Entity.INVENTORY),
    Marketplace.BRICKOWL: (Entity.ORDERS, Entity.INVENTORY),
}

# No key, secret or token holds one; a header carrying one is refused by the HTTP layer at the first sync.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
CREDENTIAL_MAX_LENGTH = 2048  # longer than any marketplace's key or token

CREDENTIAL_FIELDS: dict[Marketplace, tuple[str, ...]] = {
    Marketplace.REFURBED: ("api_key",),
    Marketplace.BACKMARKET: ("api_key",),
    Marketplace.BRICKOWL: ("api_key",),
    Marketplace.BRICKLINK: ("consumer_key", "consumer_secret", "token_value", "token_secret"),
}


class CredentialsError(ValueError):
    """Credentials given for a marketplace are incomplete or malformed."""


def validate_credentials(marketplace: str, credentials: object) -> dict[str, str]:
    """The credentials reduced to the marketplace's fields, or an error naming the bad field."""
    market = Marketplace(marketplace)
    if not isinstance(credentials, dict):
        raise CredentialsError(f"Credentials for {market.label} must be a JSON object.")
    required = CREDENTIAL_FIELDS[market]
    unknown = sorted(set(credentials) - set(required))
    if unknown:
        raise CredentialsError(
            f"Unknown credential field(s) for {market.label}: {', '.join(unknown)}; "
            f"expected {', '.join(required)}."
        )
    cleaned: dict[str, str] = {}
    for field in required:
        value = credentials.get(field)
        if value is None:
            raise CredentialsError(f"Missing credential field '{field}' for {market.label}.")
        if not isinstance(value, str) or not value.strip():
            raise CredentialsError(f"Credential field '{field}' for {market.label} must be a non-empty string.")
        if _CONTROL_CHARACTERS.search(value):  # never echoed: it may be most of a secret
            raise CredentialsError(f"Credential field '{field}' for {market.label} contains a control character.")
        if len(value.strip()) > CREDENTIAL_MAX_LENGTH:
            raise CredentialsError(
                f"Credential field '{field}' for {market.label} is longer than {CREDENTIAL_MAX_LENGTH} characters: "
                "paste the key alone."
            )
        cleaned[field] = value.strip()
    return cleaned
