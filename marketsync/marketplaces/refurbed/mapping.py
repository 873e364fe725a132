"""Refurbed payloads -> typed records. A record that cannot be read becomes ``BadRecord``; its page is kept.

The unified status of an order comes from Refurbed's computed order state;
each item keeps its own state. An unknown state maps to UNKNOWN and is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketsync.sync.errors import BadRecord
from marketsync.sync.records import MarketOfferRecord, OfferRecord, OrderItemRecord, OrderRecord
from marketsync.sync.statuses import REFURBED_ITEM_STATUS, REFURBED_ORDER_STATUS, unified_status

ORDER_DETAIL_FIELDS = (
    "labels", "payment_method", "settlement_currency_code", "settlement_exchange_rate", "total_paid", "total_refunded",
    "total_discount", "total_vat_charged", "settlement_total_paid", "is_refundable", "refund_eligibility",
    "is_invoiceable", "has_invoice",
)
ITEM_DETAIL_FIELDS = (
    "parcel_tracking_url", "return_shipment_tracking_url", "shipment_status", "shipment_substatus", "taxation",
    "vat_rate", "vat_country", "total_paid", "total_refunded", "return_initiated", "is_refundable",
)


def parse_time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} is not an RFC 3339 timestamp: {value!r}") from None
    # Without an offset it is taken as UTC: a naive time cannot be compared with the cursor's.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_decimal(value: Any, what: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} is not a decimal: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} is not a finite decimal: {value!r}")
    return number


def _id(payload: Any, what: str) -> str:
    if not isinstance(payload, dict):
        raise ValueError(f"{what} is not an object")
    value = payload.get("id")
    if value in (None, "") or not str(value).isdigit():
        raise ValueError(f"{what} has no int64 id (got {value!r})")
    return str(value)


def _name(address: dict) -> str:
    if not isinstance(address, dict):
        return ""
    return " ".join(p for p in (address.get("first_name"), address.get("family_name")) if p) or address.get("company_name", "")


def item_record(payload: dict) -> OrderItemRecord:
    item_id = _id(payload, "order item")
    state = str(payload.get("state") or "")
    imei = serial = ""
    for identifier in payload.get("item_identifiers") or []:
        if not isinstance(identifier, dict):
            continue
        if identifier.get("identifier_type") == "IMEI" and not imei:
            imei = str(identifier.get("value") or "")
        elif identifier.get("identifier_type") == "SERIAL_NUMBER" and not serial:
            serial = str(identifier.get("value") or "")
    if not imei and not serial and payload.get("item_identifier"):
        legacy = str(payload["item_identifier"])
        imei, serial = (legacy, "") if legacy.isdigit() and len(legacy) in (14, 15) else ("", legacy)
    offer_data = payload.get("offer_data") or {}
    details = {k: payload[k] for k in ITEM_DETAIL_FIELDS if payload.get(k) not in (None, "")}
    if offer_data.get("offer_grading"):
        details["grading"] = offer_data["offer_grading"]
    return OrderItemRecord(
        external_id=item_id,
        status=unified_status(REFURBED_ITEM_STATUS, state),
        marketplace_status=state[:64],
        sku=str(payload.get("sku") or "")[:120],
        title=str(payload.get("name") or "")[:500],
        quantity=1,  # one Refurbed item is one unit
        unit_price=parse_decimal(payload.get("total_charged"), f"item {item_id} total_charged"),
        currency=str(payload.get("currency_code") or "")[:3],
        imei=imei[:32],
        serial_number=serial[:64],
        listing_ref=str(offer_data.get("offer_id") or "")[:64],
        details=details,
        raw=payload,
    )


def order_record(payload: dict) -> OrderRecord:
    """One order with its embedded items; raises ``BadRecord`` naming the order and what is wrong."""
    try:
        order_id = _id(payload, "order")
    except ValueError as exc:
        raise BadRecord(str(payload.get("id") if isinstance(payload, dict) else "?"), str(exc)) from None
    try:
        state = str(payload.get("state") or "")
        items_payload = payload.get("items")
        if items_payload is not None and not isinstance(items_payload, list):
            raise ValueError("items is not a list")
        items = [item_record(i) for i in items_payload] if items_payload is not None else None
        shipping = payload.get("shipping_address") or {}
        tracking = next((i.details.get("parcel_tracking_url") for i in items or [] if i.details.get("parcel_tracking_url")), "")
        raw = {k: v for k, v in payload.items() if k != "items"}
        return OrderRecord(
            external_id=order_id,
            status=unified_status(REFURBED_ORDER_STATUS, state),
            marketplace_status=state[:64],
            placed_at=parse_time(payload.get("released_at"), "released_at"),
            currency=str(payload.get("currency_code") or "")[:3],
            total_amount=parse_decimal(payload.get("total_charged"), "total_charged"),
            customer_name=_name(shipping)[:200],
            customer_email=str(payload.get("customer_email") or "")[:254],
            shipping_address=shipping if isinstance(shipping, dict) else {},
            billing_address=payload.get("invoice_address") or {},
            tracking_url=str(tracking)[:500],
            details={k: payload[k] for k in ORDER_DETAIL_FIELDS if payload.get(k) not in (None, "")},
            raw=raw,
            items=items,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRecord(order_id, str(exc)) from None


def parse_page(rows: list, parse) -> tuple[list, list[BadRecord]]:
    records, bad = [], []
    for row in rows:
        try:
            records.append(parse(row))
        except BadRecord as exc:
            bad.append(exc)
    return records, bad


OFFER_FIELDS = (
    "sku", "instance_name", "state", "grading", "warranty", "shipping_profile_name", "taxation",
    "reference_currency_code", "battery_condition",
)


def _offer_common(payload: dict, what: str) -> dict:
    stock = payload.get("stock", 0)
    if stock in (None, ""):
        stock = 0
    if isinstance(stock, bool) or not str(stock).lstrip("-").isdigit():
        raise ValueError(f"{what} stock is not a number: {stock!r}")
    return {
        "version": str(payload.get("version") or ""),
        "instance_id": str(payload.get("instance_id") or ""),
        "shipping_profile_id": str(payload.get("shipping_profile_id") or ""),
        "stock": int(stock),
        "reference_price": parse_decimal(payload.get("reference_price"), f"{what} reference_price"),
        "reference_min_price": parse_decimal(payload.get("reference_min_price"), f"{what} reference_min_price"),
        "marketplace_created_at": parse_time(payload.get("created_at"), f"{what} created_at"),
        **{f: str(payload.get(f) or "") for f in OFFER_FIELDS},
    }


def offer_record(payload: dict) -> OfferRecord:
    try:
        offer_id = _id(payload, "offer")
    except ValueError as exc:
        raise BadRecord(str(payload.get("id") if isinstance(payload, dict) else "?"), str(exc)) from None
    try:
        return OfferRecord(external_id=offer_id, raw=payload, **_offer_common(payload, f"offer {offer_id}"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRecord(offer_id, str(exc)) from None


def market_offer_key(payload: dict) -> tuple[str, str]:
    identifier = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(identifier, dict):
        raise ValueError("market offer has no identifier object")
    offer_id = str((identifier.get("offer_id") or {}).get("id") or "")
    code = str(identifier.get("market_code") or "")
    if not offer_id.isdigit() or not code:
        raise ValueError(f"market offer identifier is incomplete: {identifier!r}")
    return offer_id, code


def market_offer_record(payload: dict) -> MarketOfferRecord:
    try:
        offer_id, code = market_offer_key(payload)
    except ValueError as exc:
        raise BadRecord("?", str(exc)) from None
    key = f"{offer_id}:{code}"
    try:
        price = payload.get("market_price") or {}
        return MarketOfferRecord(
            external_id=key,
            offer_external_id=offer_id,
            market_code=code,
            market_name=str(price.get("market_name") or ""),
            is_site_market=bool(price.get("is_site_market")),
            is_calculated=bool(price.get("is_calculated")),
            currency=str(price.get("currency_code") or "")[:3],
            price=parse_decimal(price.get("price"), f"market offer {key} price"),
            min_price=parse_decimal(price.get("min_price"), f"market offer {key} min_price"),
            visibility=str(price.get("visibility") or ""),
            buybox_state=str(price.get("instance_buybox_state") or ""),
            raw=payload,
            **_offer_common(payload, f"market offer {key}"),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRecord(key, str(exc)) from None
