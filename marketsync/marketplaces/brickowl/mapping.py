"""Brick Owl payloads -> order, item and lot records. Every scalar may be a string, a number or null.

Items keep Brick Owl's own names (``brickowl_boid``, ``brickowl_color_id``,
``brickowl_type``). Of BrickLink's, a record carries only what the payload
states: the type (Brick Owl's type names translate one to one) and the number
when the ``ids`` list has a ``bl_item_no`` (never the ``design_id``: "3069" is
BrickLink's "3069b"). The colour id is left blank: Brick Owl's colour ids are
its own, translated with the colour list by the storing service
(``inventory/catalog.py``), like a number only ``/catalog/id_lookup`` knows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketsync.sync.records import LotRecord, LotSaleStatus, OrderItemRecord, OrderRecord, condition_coarse
from marketsync.sync.statuses import BRICKOWL_STATUS_NAMES, brickowl_status

STATUS_NAMES = BRICKOWL_STATUS_NAMES
# full_con codes -> BrickLink-style completeness (sets)
COMPLETENESS = {"news": "S", "newc": "C", "newi": "B", "usedc": "C", "usedi": "B"}
# Brick Owl's item types (the ``type`` argument's documented values) -> BrickLink's. Not upper-cased: "Minifigure"
# is BrickLink's MINIFIG; BrickLink files sticker sheets under PART, minibuilds under SET, boxes as ORIGINAL_BOX.
BRICKLINK_TYPES = {
    "part": "PART", "minifigure": "MINIFIG", "set": "SET", "gear": "GEAR", "sticker": "PART", "minibuild": "SET",
    "instructions": "INSTRUCTION", "packaging": "ORIGINAL_BOX",
}


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


def bricklink_type(brickowl_type: str) -> str:
    """BrickLink's item type for a Brick Owl type name; blank for a name Brick Owl has not documented."""
    return BRICKLINK_TYPES.get(brickowl_type.strip().lower(), "")


# The columns Brick Owl's names go into (lots and order items).
NAME_LIMITS = {"brickowl_boid": 40, "brickowl_color_id": 16, "brickowl_type": 20}


def split_boid(boid: str) -> tuple[str, str]:
    """An item-and-colour BOID as (item BOID, Brick Owl colour id): "306255-64" -> ("306255", "64");
    an item without a colour ("547781") has a blank colour."""
    item, _, color = boid.strip().partition("-")
    return item, color


def brickowl_names(raw: dict) -> dict[str, str]:
    """Brick Owl's BOID, colour id and type of a lot or order item. A lot has no ``color_id``: its colour is the
    BOID's suffix (an order item has both; its ``color_id`` wins)."""
    boid = text(raw.get("boid"))
    names = {
        "brickowl_boid": boid,
        "brickowl_color_id": text(raw.get("color_id")) or split_boid(boid)[1],
        "brickowl_type": text(raw.get("type")),
    }
    for field, limit in NAME_LIMITS.items():
        if len(names[field]) > limit:
            raise ValueError(f"{field.removeprefix('brickowl_')} {names[field][:40]!r}… is longer than {limit} characters")
    return names


def bricklink_lot(raw: dict) -> str:
    external = raw.get("external_lot_ids")
    if isinstance(external, dict) and external.get("other"):
        return text(external["other"])
    return text(raw.get("bl_lot_id"))


def order_item_record(raw: dict, status: str, marketplace_status: str, currency: str) -> OrderItemRecord:
    full_con = text(raw.get("full_con")).lower()
    note = text(raw.get("personal_note"))
    names = brickowl_names(raw)
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
        part_number=bricklink_part(raw.get("ids")),
        item_type=bricklink_type(names["brickowl_type"]),
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
        **names,
    )


def order_record(entry: dict, view: dict | None, items: list[dict] | None) -> OrderRecord:
    data = {**entry, **(view or {})}
    order_id = text(data.get("order_id"))
    if not order_id:
        raise ValueError("order without order_id")
    status_id = status_id_of(data)
    marketplace_status = STATUS_NAMES.get(status_id, text(data.get("status")) or status_id)
    status = brickowl_status(status_id)
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
    names = brickowl_names(raw)
    if not lot_id or not names["brickowl_boid"]:
        raise ValueError("lot without lot_id or boid")
    note = text(raw.get("personal_note"))
    return LotRecord(
        external_id=lot_id,
        part_number=bricklink_part(raw.get("ids")),
        item_type=bricklink_type(names["brickowl_type"]),
        color_id="",
        color_name=text(raw.get("color_name")),
        condition=condition_coarse(raw.get("full_con") or raw.get("con")),
        quantity=integer(raw.get("qty"), 0),
        location=note[:120],
        name=text(raw.get("name"))[:300],
        unit_price=amount(raw.get("price")),
        external_bricklink_id=bricklink_lot(raw),
        remarks=note,
        raw=raw,
        # brickowl.md §3: ``for_sale`` 0/1; a lot not for sale is the seller's, but offered to nobody.
        sale_status=LotSaleStatus.FOR_SALE if text(raw.get("for_sale")) in ("", "1") else LotSaleStatus.UNAVAILABLE,
        **names,
    )


def _image(value: Any) -> str:
    url = text(value)
    return "https:" + url if url.startswith("//") else url


# --- the catalog ------------------------------------------------------------------------------------


def color_entries(data: dict) -> list[tuple[str, str, list[str]]]:
    """``/catalog/color_list`` as (Brick Owl colour id, name, BrickLink colour ids): ``bl_ids`` may be a list, one
    value, empty or missing; ids are compared as strings. Entries without an id are skipped."""
    rows = []
    for key, entry in data.items():
        if not isinstance(entry, dict):
            continue
        color_id = text(entry.get("id")) or text(key)
        if not color_id or len(color_id) > NAME_LIMITS["brickowl_color_id"]:
            continue
        bl_ids = entry.get("bl_ids")
        bl_ids = bl_ids if isinstance(bl_ids, list) else ([] if bl_ids in (None, "") else [bl_ids])
        bricklink = [text(b) for b in bl_ids if text(b) and len(text(b)) <= NAME_LIMITS["brickowl_color_id"]]
        rows.append((color_id, text(entry.get("name"))[:64], list(dict.fromkeys(bricklink))))
    return rows


def lookup_bricklink_number(answer: dict) -> str:
    """BrickLink's number in an ``/catalog/id_lookup`` answer by BOID (``bl_item_no`` among its ``ids``); blank when
    Brick Owl names none."""
    return (text(answer.get("bl_item_no")) or bricklink_part(answer.get("ids")))[:64]
