"""Typed offer records the Refurbed adapter produces; ``offers.services`` stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class OfferRecord:
    external_id: str
    sku: str = ""
    version: str = ""
    instance_id: str = ""
    instance_name: str = ""
    state: str = ""
    grading: str = ""
    warranty: str = ""
    stock: int = 0
    shipping_profile_id: str = ""
    shipping_profile_name: str = ""
    taxation: str = ""
    reference_currency_code: str = ""
    reference_price: Decimal | None = None
    reference_min_price: Decimal | None = None
    battery_condition: str = ""
    marketplace_created_at: datetime | None = None
    raw: dict = field(default_factory=dict)


@dataclass
class MarketOfferRecord(OfferRecord):
    """One offer on one market; ``external_id`` is ``offerId:marketCode``."""

    offer_external_id: str = ""
    market_code: str = ""
    market_name: str = ""
    is_site_market: bool = False
    is_calculated: bool = False
    currency: str = ""
    price: Decimal | None = None
    min_price: Decimal | None = None
    visibility: str = ""
    buybox_state: str = ""
