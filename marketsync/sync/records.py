"""The typed records marketplace adapters return, and the unified order status they map onto.

Adapters (``marketsync/marketplaces/*/mapping.py``) fill what their marketplace
gives and leave the rest at the defaults; the raw payload always travels along
so nothing is lost. The apps' services store them: orders and their items
(``orders.services``), offers (``offers.services``), brick lots
(``inventory.services``). Nothing here knows Django models.

The unified order status, and each marketplace's own statuses mapped onto it:

One table, so a merchant on four marketplaces filters one way. The
marketplace's own status is always stored beside the unified one; a status
this table does not know maps to UNKNOWN and is shown as such, never an error.

| unified           | meaning                                   | Refurbed            | Back Market (order state) | BrickLink                         | Brick Owl (status id)     |
|-------------------|-------------------------------------------|---------------------|---------------------------|-----------------------------------|---------------------------|
| awaiting_payment  | placed, not paid: do not ship             | —                   | 0 (payment pending)       | PENDING, UPDATED                  | 0 Pending, 1 Payment Submitted |
| new               | paid, waiting for the seller to accept    | NEW                 | 1 (to accept)             | PAID                              | 2 Payment Received        |
| accepted          | accepted / being prepared: ready to ship  | ACCEPTED            | 3 (accepted, to ship)     | PACKED, READY, PROCESSING         | 3 Processing, 4 Processed |
| shipped           | handed to the carrier                     | SHIPPED             | 9 (shipped)               | SHIPPED                           | 5 Shipped                 |
| delivered         | received by the buyer                     | —                   | —                         | RECEIVED, COMPLETED               | 6 Received                |
| cancelled         | cancelled before shipping                 | CANCELLED, REJECTED | cancelled                 | CANCELLED, PURGED                 | 8 Cancelled               |
| returned          | sent back by the buyer                    | RETURNED            | returned                  | —                                 | —                         |
| refunded          | money given back                          | —                   | refunded                  | —                                 | —                         |
| on_hold           | needs attention (disputes, alerts)        | —                   | —                         | NPB, NSS, NRS, NPX, OCR           | 7 On Hold                 |
| unknown           | a status this table does not know         |                     |                           |                                   |                           |

The per-marketplace maps live in each adapter's ``mapping.py``; they use
these values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models


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
# "Ready to ship" in the order book: paid and not yet shipped.
READY_TO_SHIP_STATUSES = frozenset({UnifiedStatus.NEW, UnifiedStatus.ACCEPTED})


def unified_status(mapping: dict[str, str], marketplace_status: object) -> str:
    """Look a marketplace status up in an adapter's map; unknown statuses stay visible as UNKNOWN."""
    return mapping.get(str(marketplace_status), UnifiedStatus.UNKNOWN)


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
    # As on OrderItemRecord: Brick Owl's BOID, colour id and type name, before translation.
    brickowl_boid: str = ""
    brickowl_color_id: str = ""
    brickowl_type: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.part_number, self.item_type, self.color_id, self.condition, self.location)
