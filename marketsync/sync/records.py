"""The typed records marketplace adapters return, and the unified order status they map onto.

Adapters (``marketsync/marketplaces/*/mapping.py``) fill what their marketplace
gives and leave the rest at the defaults; the raw payload always travels along
so nothing is lost. The apps' services store them: orders and their items
(``orders.services``), offers (``offers.services``), brick lots
(``inventory.services``). Nothing here knows Django models.

The unified order status is defined here; each marketplace's statuses are mapped
onto it in one place, ``marketsync/sync/statuses.py`` (documented for the app in
``orders/status.py``). The marketplace's own status is always stored beside the
unified one; a status no table knows maps to UNKNOWN and is shown as such.

| unified           | meaning                                               |
|-------------------|-------------------------------------------------------|
| awaiting_payment  | placed, not paid: do not ship                         |
| new               | paid, waiting for the seller to accept or pack        |
| accepted          | paid, accepted / being prepared                       |
| shipped           | handed to the carrier                                 |
| delivered         | received by the buyer (or closed after shipping)      |
| cancelled         | cancelled before shipping                             |
| returned          | sent back by the buyer                                |
| refunded          | money given back                                      |
| on_hold           | needs attention (disputes, alerts)                    |
| unknown           | a status no table knows                               |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models


def refuse_below_zero(name: str, value: object) -> None:
    """A stock figure below zero is no quantity a marketplace holds: the record is unreadable (named, skipped)."""
    if isinstance(value, int) and value < 0:
        raise ValueError(f"{name} {value} is below zero")


class UnifiedStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED = "returned", "Returned"
    REFUNDED = "refunded", "Refunded"
    ON_HOLD = "on_hold", "On hold"
    UNKNOWN = "unknown", "Unknown"


# Statuses in which an order still needs the seller (re-read by syncs that lack an update filter).
OPEN_STATUSES = frozenset(
    {UnifiedStatus.AWAITING_PAYMENT, UnifiedStatus.NEW, UnifiedStatus.ACCEPTED, UnifiedStatus.ON_HOLD, UnifiedStatus.UNKNOWN}
)
# "Ready to ship" in the order book: paid and not yet shipped (never AWAITING_PAYMENT).
READY_TO_SHIP_STATUSES = frozenset({UnifiedStatus.NEW, UnifiedStatus.ACCEPTED})


# ------------------------------------------------------------------ orders
@dataclass
class OrderItemRecord:
    external_id: str
    status: str
    marketplace_status: str = ""
    sku: str = ""
    title: str = ""
    quantity: int = 1
    unit_price: Decimal | None = None
    currency: str = ""
    imei: str = ""
    serial_number: str = ""
    listing_ref: str = ""
    image_url: str = ""
    part_number: str = ""
    item_type: str = ""
    color_id: str = ""
    color_name: str = ""
    condition: str = ""
    completeness: str = ""
    remarks: str = ""
    location: str = ""
    details: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    # Brick Owl's own names of the item (BrickLink's are part_number, item_type and color_id, filled by the
    # storing service's catalog translation): the item-and-colour BOID, Brick Owl's colour id and type name.
    brickowl_boid: str = ""
    brickowl_color_id: str = ""
    brickowl_type: str = ""


@dataclass
class OrderRecord:
    external_id: str
    status: str
    marketplace_status: str = ""
    placed_at: datetime | None = None
    marketplace_updated_at: datetime | None = None
    ship_by: datetime | None = None  # the marketplace's dispatch deadline, where it gives one
    currency: str = ""
    total_amount: Decimal | None = None
    subtotal_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    customer_name: str = ""
    customer_email: str = ""
    shipping_address: dict = field(default_factory=dict)
    billing_address: dict = field(default_factory=dict)
    tracking_number: str = ""
    tracking_url: str = ""
    shipper: str = ""
    details: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    # None: the items were not fetched this time (keep what is stored); a list: the order's items now.
    items: list[OrderItemRecord] | None = field(default_factory=list)


# ------------------------------------------------------------------ Refurbed offers
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

    def __post_init__(self) -> None:
        refuse_below_zero("stock", self.stock)


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


# ------------------------------------------------------------------ brick lots
NEW, USED = "new", "used"


class LotSaleStatus(models.TextChoices):
    """Whether a lot is offered for sale. Lots in a stockroom, unavailable or reserved for a buyer are the seller's
    units on hand but invisible to buyers (bricklink.md §3 and its corrections, "Lots that are not for sale"):
    their quantity is never counted as offered for sale."""

    FOR_SALE = "for_sale", "For sale"
    STOCKROOM_A = "stockroom_a", "Stockroom A"
    STOCKROOM_B = "stockroom_b", "Stockroom B"
    STOCKROOM_C = "stockroom_c", "Stockroom C"
    UNAVAILABLE = "unavailable", "Unavailable"
    RESERVED = "reserved", "Reserved for a buyer"


def condition_coarse(value: object) -> str:
    """BrickLink ``N``/``U`` and Brick Owl condition codes (``new``, ``news``, ``usedg``, ...) as new or used."""
    text = str(value or "").strip().lower()
    if text in ("n", "new") or text.startswith("new"):
        return NEW
    if text in ("u", "used") or text.startswith("used"):
        return USED
    return text or USED


@dataclass
class LotRecord:
    external_id: str
    part_number: str
    item_type: str
    color_id: str
    condition: str  # new | used
    quantity: int
    location: str = ""
    color_name: str = ""
    name: str = ""
    unit_price: Decimal | None = None
    external_bricklink_id: str = ""
    remarks: str = ""
    raw: dict = field(default_factory=dict)
    sale_status: str = LotSaleStatus.FOR_SALE
    # As on OrderItemRecord: Brick Owl's BOID, colour id and type name, before translation.
    brickowl_boid: str = ""
    brickowl_color_id: str = ""
    brickowl_type: str = ""

    def __post_init__(self) -> None:
        refuse_below_zero("quantity", self.quantity)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.part_number, self.item_type, self.color_id, self.condition, self.location)
