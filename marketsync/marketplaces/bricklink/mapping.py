"""BrickLink payloads -> order, item and lot records. Ids may be integers or strings; money has 4 decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketsync.sync.records import LotRecord, LotSaleStatus, OrderItemRecord, OrderRecord, condition_coarse
from marketsync.sync.statuses import BRICKLINK_PURGED, bricklink_purged_outcome, bricklink_status


def money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return round(Decimal(str(value)), 4)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def timestamp(value: Any) -> datetime | None:
    """``2013-12-01T18:05:46.123Z`` (and the variants without milliseconds)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # no offset: UTC, comparable with stored times


def text(value: Any) -> str:
    return "" if value is None else str(value)


def item_external_id(order_id: str, inventory_id: str, seen: dict[str, int]) -> str:
    """Items have no id of their own: the order and the lot sold from, numbered if a later batch repeats the lot."""
    key = f"{order_id}:{inventory_id}"
    seen[key] = seen.get(key, 0) + 1
    return key if seen[key] == 1 else f"{key}:{seen[key]}"


def order_item_record(order_id: str, raw: dict, status: str, marketplace_status: str, seen: dict[str, int]) -> OrderItemRecord:
    item = raw.get("item") or {}
    inventory_id = text(raw.get("inventory_id"))
    remarks = text(raw.get("remarks")).strip()
    return OrderItemRecord(
        external_id=item_external_id(order_id, inventory_id, seen),
        status=status,
        marketplace_status=marketplace_status,
        sku=text(item.get("no")),
        title=text(item.get("name")),
        quantity=int(raw.get("quantity") or 0),
        unit_price=money(raw.get("unit_price_final") or raw.get("unit_price")),
        currency=text(raw.get("currency_code"))[:3],
        listing_ref=inventory_id,
        part_number=text(item.get("no")),
        item_type=text(item.get("type")).upper(),
        color_id=text(raw.get("color_id")),
        color_name=text(raw.get("color_name")),
        condition=condition_coarse(raw.get("new_or_used")),
        completeness=text(raw.get("completeness")),
        remarks=remarks,
        location=remarks[:120],
        details={
            "description": text(raw.get("description")),
            "unit_price": text(raw.get("unit_price")),
            "category_id": text(item.get("category_id", item.get("categoryID"))),
            "weight": text(raw.get("weight")),
        },
        raw=raw,
    )


def order_record(summary: dict, detail: dict | None, items: list[dict] | None) -> OrderRecord:
    """An order from its list entry, its full payload (when fetched) and its flattened items (when fetched)."""
    data = {**summary, **(detail or {})}
    order_id = text(data.get("order_id"))
    if not order_id:
        raise ValueError("order without order_id")
    marketplace_status = text(data.get("status")).upper()
    cost = data.get("cost") or {}
    payment = data.get("payment") or {}
    shipping = data.get("shipping") or {}
    purged = marketplace_status == BRICKLINK_PURGED
    if purged:  # a stored order keeps its last known outcome (orders.services); this is for one never seen before
        status = bricklink_purged_outcome(shipped=bool(shipping.get("date_shipped")))
    else:
        status = bricklink_status(marketplace_status, payment.get("status"))
    address = shipping.get("address") or {}
    name = address.get("name") or {}
    seen: dict[str, int] = {}
    return OrderRecord(
        external_id=order_id,
        status=status,
        marketplace_status=marketplace_status,
        placed_at=timestamp(data.get("date_ordered")),
        marketplace_updated_at=timestamp(data.get("date_status_changed")),
        currency=text(cost.get("currency_code") or payment.get("currency_code"))[:3],
        total_amount=money(cost.get("grand_total")),
        subtotal_amount=money(cost.get("subtotal")),
        shipping_amount=money(cost.get("shipping")),
        customer_name=text(data.get("buyer_name"))[:200],
        customer_email=text(data.get("buyer_email"))[:254],
        shipping_address={
            "name": text(name.get("full")) or " ".join(filter(None, [text(name.get("first")), text(name.get("last"))])),
            "full": text(address.get("full")),
            "address1": text(address.get("address1")),
            "address2": text(address.get("address2")),
            "city": text(address.get("city")),
            "state": text(address.get("state")),
            "postal_code": text(address.get("postal_code")),
            # BrickLink says UK where ISO says GB.
            "country_code": "GB" if text(address.get("country_code")).upper() == "UK" else text(address.get("country_code")),
            "phone": text(address.get("phone_number")),
        } if address else {},
        tracking_number=text(shipping.get("tracking_no"))[:120],
        tracking_url=text(shipping.get("tracking_link"))[:500],
        shipper=text(shipping.get("method"))[:120],
        details={
            "payment_method": text(payment.get("method")),
            "payment_status": text(payment.get("status")),
            "total_count": data.get("total_count"),
            "unique_count": data.get("unique_count"),
            "is_filed": bool(data.get("is_filed")),
            "purged": purged,
            "remarks": text(data.get("remarks")),
            "store_name": text(data.get("store_name")),
        },
        raw=data,
        items=None if items is None else [
            order_item_record(order_id, raw, status, marketplace_status, seen) for raw in items
        ],
    )


# GET /inventories?status= letters (bricklink.md §3) of the lots not for sale that carry no field saying so.
LISTED_SALE_STATUS = {"N": LotSaleStatus.UNAVAILABLE, "R": LotSaleStatus.RESERVED}
STOCKROOMS = {"A": LotSaleStatus.STOCKROOM_A, "B": LotSaleStatus.STOCKROOM_B, "C": LotSaleStatus.STOCKROOM_C}


def lot_sale_status(raw: dict, listed_as: str = "") -> str:
    """A stockroom lot says so (``is_stock_room``, ``stock_room_id`` A/B/C; stockroom A when no id is given);
    unavailable and reserved lots are known only by the status filter they were listed under (``listed_as``)."""
    if raw.get("is_stock_room") in (True, "true", "True", 1, "1"):
        return STOCKROOMS.get(text(raw.get("stock_room_id")).upper(), LotSaleStatus.STOCKROOM_A)
    return LISTED_SALE_STATUS.get(listed_as, LotSaleStatus.FOR_SALE)


def lot_record(raw: dict, listed_as: str = "") -> LotRecord:
    item = raw.get("item") or {}
    remarks = text(raw.get("remarks")).strip()
    inventory_id = text(raw.get("inventory_id"))
    if not inventory_id or not item.get("no"):
        raise ValueError("lot without inventory_id or item.no")
    return LotRecord(
        external_id=inventory_id,
        part_number=text(item.get("no")),
        item_type=text(item.get("type")).upper() or "PART",
        color_id=text(raw.get("color_id")),
        color_name=text(raw.get("color_name")),
        condition=condition_coarse(raw.get("new_or_used")),
        quantity=int(raw.get("quantity") or 0),
        location=remarks[:120],
        name=text(item.get("name"))[:300],
        unit_price=money(raw.get("unit_price")),
        remarks=remarks,
        raw=raw,
        sale_status=lot_sale_status(raw, listed_as),
    )


def notified_order_ids(notes: list[dict]) -> list[str]:
    """The orders ``GET /notifications`` names (BrickLink's push, read after its callback), once each."""
    ids = [text(n["resource_id"]) for n in notes
           if str(n.get("event_type", "")).lower() == "order" and n.get("resource_id") is not None]
    return list(dict.fromkeys(ids))
