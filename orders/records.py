"""Typed order records every marketplace adapter produces; ``orders.services`` stores them.

Adapters fill what their marketplace gives and leave the rest at the
defaults; the raw payload always travels along so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


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
