"""Brick Owl payloads -> order, item and lot records. Every scalar may be a string, a number or null."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketsync.sync.records import LotRecord, OrderItemRecord, OrderRecord, UnifiedStatus, condition_coarse, unified_status

STATUS_NAMES = {
    "0": "Pending", "1": "Payment Submitted", "2": "Payment Received", "3": "Processing", "4": "Processed",
    "5": "Shipped", "6": "Received", "7": "On Hold", "8": "Cancelled",
}
STATUS_MAP: dict[str, str] = {
    "0": UnifiedStatus.AWAITING_PAYMENT,
    "1": UnifiedStatus.AWAITING_PAYMENT,
    "2": UnifiedStatus.NEW,
    "3": UnifiedStatus.ACCEPTED,
    "4": UnifiedStatus.ACCEPTED,
    "5": UnifiedStatus.SHIPPED,
    "6": UnifiedStatus.DELIVERED,
    "7": UnifiedStatus.ON_HOLD,
    "8": UnifiedStatus.CANCELLED,
}
# full_con codes -> BrickLink-style completeness (sets)
COMPLETENESS = {"news": "S", "newc": "C", "newi": "B", "usedc": "C", "usedi": "B"}


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def integer(value: Any, default: int = 0) -> int:
    if value in (None, ""):
        return default
    try:
        return int(Decimal(str(value)))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return round(Decimal(str(value)), 4)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def unix_time(value: Any) -> datetime | None:
    """Unix seconds as a string; 0 (the epoch) means "not set"."""
    seconds = integer(value, 0)
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def status_id_of(data: dict) -> str:
    status_id = text(data.get("status_id"))
    if not status_id:
        by_name = {name.lower(): sid for sid, name in STATUS_NAMES.items()}
        status_id = by_name.get(text(data.get("status")).lower(), "")
    return status_id


def bricklink_part(ids: Any) -> str:
    for entry in ids if isinstance(ids, list) else []:
        if isinstance(entry, dict) and entry.get("type") == "bl_item_no" and entry.get("id"):
            return text(entry["id"])
    return ""


def bricklink_lot(raw: dict) -> str:
    external = raw.get("external_lot_ids")
    if isinstance(external, dict) and external.get("other"):
        return text(external["other"])
    return text(raw.get("bl_lot_id"))


def order_item_record(raw: dict, status: str, marketplace_status: str, currency: str) -> OrderItemRecord:
    full_con = text(raw.get("full_con")).lower()
    note = text(raw.get("personal_note"))
    part = bricklink_part(raw.get("ids")) or text(raw.get("boid"))
    item_id = text(raw.get("order_item_id"))
    if not item_id:
        raise ValueError("order item without order_item_id")
    return OrderItemRecord(
        external_id=item_id,
        status=status,
        marketplace_status=marketplace_status,
        sku=text(raw.get("boid")),
        title=text(raw.get("name"))[:500],
        quantity=integer(raw.get("ordered_quantity"), 0),
        unit_price=amount(raw.get("base_price")),
        currency=currency,
        listing_ref=text(raw.get("lot_id")),
        image_url=_image(raw.get("image_small")),
        part_number=part,
        item_type=text(raw.get("type")).upper(),
        color_id=text(raw.get("color_id")),
        color_name=text(raw.get("color_name")),
        condition=condition_coarse(full_con or raw.get("condition")),
        completeness=COMPLETENESS.get(full_con, ""),
        remarks=note,
        location=note[:120],
        details={
            "boid": text(raw.get("boid")), "full_con": full_con, "bl_lot_id": bricklink_lot(raw),
            "public_note": text(raw.get("public_note")), "refunded_quantity": integer(raw.get("refunded_quantity"), 0),
            "remaining_quantity": text(raw.get("remaining_quantity")),
        },
        raw=raw,
    )


def order_record(entry: dict, view: dict | None, items: list[dict] | None) -> OrderRecord:
    data = {**entry, **(view or {})}
    order_id = text(data.get("order_id"))
    if not order_id:
        raise ValueError("order without order_id")
    status_id = status_id_of(data)
    marketplace_status = STATUS_NAMES.get(status_id, text(data.get("status")) or status_id)
    status = unified_status(STATUS_MAP, status_id)
    currency = text(data.get("base_currency"))[:3]
    name = " ".join(filter(None, [text(data.get("ship_first_name")), text(data.get("ship_last_name"))]))
    address = {
        "name": name, "address1": text(data.get("ship_street_1")), "address2": text(data.get("ship_street_2")),
        "city": text(data.get("ship_city")), "state": text(data.get("ship_region")), "postal_code": text(data.get("ship_post_code")),
        "country_code": text(data.get("ship_country_code")), "phone": text(data.get("ship_phone")),
    } if view else {}
    tracking = text(data.get("tracking_number"))
    return OrderRecord(
        external_id=order_id,
        status=status,
        marketplace_status=marketplace_status,
        placed_at=unix_time(data.get("order_time") or data.get("order_date")),
        marketplace_updated_at=unix_time(data.get("processed_time")),
        currency=currency,
        total_amount=amount(data.get("base_order_total")),
        subtotal_amount=amount(data.get("sub_total")),
        shipping_amount=amount(data.get("ship_total")),
        customer_name=(text(data.get("buyer_name")) or name)[:200],
        customer_email=text(data.get("customer_email"))[:254],
        shipping_address=address,
        tracking_number="" if tracking.startswith("http") else tracking[:120],
        tracking_url=tracking[:500] if tracking.startswith("http") else "",
        shipper=text(data.get("ship_method_name"))[:120],
        details={
            "status_id": status_id, "store_id": text(data.get("store_id")),
            "payment_method": text(data.get("payment_method_type")), "payment_total": text(data.get("payment_total")),
            "refund_total": text(data.get("refund_total")), "buyer_note": text(data.get("buyer_note")),
            "seller_note": text(data.get("seller_note")), "total_lots": text(data.get("total_lots")),
        },
        raw=data,
        items=None if items is None else [order_item_record(i, status, marketplace_status, currency) for i in items],
    )


def lot_record(raw: dict) -> LotRecord:
    lot_id = text(raw.get("lot_id"))
    part = bricklink_part(raw.get("ids")) or text(raw.get("boid"))
    if not lot_id or not part:
        raise ValueError("lot without lot_id or item number")
    note = text(raw.get("personal_note"))
    return LotRecord(
        external_id=lot_id,
        part_number=part,
        item_type=text(raw.get("type")).upper() or "PART",
        color_id=text(raw.get("color_id")),
        color_name=text(raw.get("color_name")),
        condition=condition_coarse(raw.get("full_con") or raw.get("con")),
        quantity=integer(raw.get("qty"), 0),
        location=note[:120],
        name=text(raw.get("name"))[:300],
        unit_price=amount(raw.get("price")),
        external_bricklink_id=bricklink_lot(raw),
        remarks=note,
        raw=raw,
    )


def _image(value: Any) -> str:
    url = text(value)
    return "https:" + url if url.startswith("//") else url
