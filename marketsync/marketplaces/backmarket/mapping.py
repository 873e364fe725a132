"""Back Market payloads → typed records. The raw payload always travels along."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketsync.marketplaces.backmarket.client import parse_datetime
from marketsync.sync.errors import BadRecord
from marketsync.sync.records import OrderItemRecord, OrderRecord, UnifiedStatus, refuse_below_zero
from marketsync.sync.statuses import (
    BACKMARKET_CONDITION_WORDS,
    BACKMARKET_LINE_STATUS,
    BACKMARKET_LINE_WORDS,
    BACKMARKET_ORDER_STATUS,
    BACKMARKET_ORDER_WORDS,
    BACKMARKET_PUBLICATION_WORDS,
    unified_status,
)

# The words live in one table per code (marketsync/sync/statuses.py); these are them keyed by the payload's ints.
ORDER_STATE_LABELS = {int(k): v for k, v in BACKMARKET_ORDER_WORDS.items()}
ORDERLINE_STATE_LABELS = {int(k): v for k, v in BACKMARKET_LINE_WORDS.items()}
PUBLICATION_STATE_LABELS = {int(k): v for k, v in BACKMARKET_PUBLICATION_WORDS.items()}
CONDITION_LABELS = {int(k): v for k, v in BACKMARKET_CONDITION_WORDS.items()}
RETURN_REASON_LABELS = {
    0: "", 1: "Withdrawal within 14 days", 11: "Not at address", 12: "Parcel did not arrive", 13: "Lost parcel",
    21: "Faulty on opening", 22: "Failure on first use", 23: "Failure during warranty", 24: "Non-compliant", 25: "Other",
}

CLOSED_LINE_STATES = {4, 5, 6, 7}

ADDRESS_FIELDS = {
    # snake_case as real responses send it; camelCase as the spec documents it.
    "company": ("company",), "first_name": ("first_name", "firstName"), "last_name": ("last_name", "lastName"),
    "first_name_pronunciation": ("first_name_pronunciation",), "last_name_pronunciation": ("last_name_pronunciation",),
    "gender": ("gender",), "street": ("street",), "street2": ("street2",),
    "postal_code": ("postal_code", "postalCode"), "city": ("city",), "state": ("state",), "country": ("country",),
    "phone": ("phone", "phoneNumber"), "email": ("email",), "customer_id_number": ("customer_id_number",),
}


def money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def _iso(value: Any) -> str | None:
    parsed = parse_datetime(value)
    return parsed.isoformat() if parsed else None


def address(data: Any) -> dict:
    if not isinstance(data, dict):
        return {}
    out = {}
    for name, keys in ADDRESS_FIELDS.items():
        for key in keys:
            if data.get(key) not in (None, ""):
                out[name] = data[key]
                break
    return out


def _int(value: Any, default: int = 0) -> int:
    if value in (None, ""):
        return default
    return int(value)


def orderline_record(line: dict) -> OrderItemRecord:
    state = _int(line.get("state"))
    condition = line.get("condition")
    return_reason = _int(line.get("return_reason"))
    return OrderItemRecord(
        external_id=str(_int(line["id"])),
        status=unified_status(BACKMARKET_LINE_STATUS, state),
        marketplace_status=str(state),
        sku=str(line.get("listing") or ""),
        title=str(line.get("product") or "")[:500],
        quantity=_int(line.get("quantity"), 1),
        unit_price=money(line.get("price")),
        currency=str(line.get("currency") or ""),
        imei=str(line.get("imei") or ""),
        serial_number=str(line.get("serial_number") or ""),
        listing_ref=str(line.get("listing_id") or ""),
        condition=str(condition) if condition not in (None, "") else "",
        details={
            "state": state,
            "state_label": ORDERLINE_STATE_LABELS.get(state, f"state {state}"),
            "condition_label": CONDITION_LABELS.get(_int(condition), "") if condition not in (None, "") else "",
            "date_creation": _iso(line.get("date_creation")),
            "shipping_price": line.get("shipping_price"),
            "shipping_delay": line.get("shipping_delay"),
            "shipper": line.get("shipper") or "",
            "return_reason": return_reason,
            "return_reason_label": RETURN_REASON_LABELS.get(return_reason, str(return_reason)),
            "return_message": line.get("return_message") or "",
            "brand": line.get("brand") or "",
            "product_id": line.get("product_id"),
            "backcare": bool(line.get("backcare")),
            "backcare_price": line.get("backcare_price"),
            "sales_taxes": line.get("sales_taxes"),
            "orderline_fee": line.get("orderline_fee"),
        },
        raw=line,
    )


def order_status(state: int, lines: list[OrderItemRecord]) -> str:
    line_states = [int(item.marketplace_status) for item in lines]
    if line_states and all(s in CLOSED_LINE_STATES for s in line_states):
        if any(s == 6 for s in line_states):
            return UnifiedStatus.RETURNED
        if any(s == 5 for s in line_states):
            return UnifiedStatus.REFUNDED
        return UnifiedStatus.CANCELLED
    return unified_status(BACKMARKET_ORDER_STATUS, state)


def order_record(data: dict) -> OrderRecord:
    """One ``Order`` payload; raises BadRecord naming the order when it cannot be read."""
    order_id = data.get("order_id") if isinstance(data, dict) else None
    try:
        if order_id in (None, ""):
            raise ValueError("order_id is missing")
        state = _int(data.get("state"))
        items = [orderline_record(line) for line in data.get("orderlines") or []]
        shipping = address(data.get("shipping_address"))
        name = " ".join(p for p in (shipping.get("first_name", ""), shipping.get("last_name", "")) if p)
        return OrderRecord(
            external_id=str(_int(order_id)),
            status=order_status(state, items),
            marketplace_status=str(state),
            placed_at=parse_datetime(data.get("date_creation")),
            marketplace_updated_at=parse_datetime(data.get("date_modification")),
            ship_by=parse_datetime(data.get("expected_dispatch_date")),  # §2.2: when it must leave
            currency=str(data.get("currency") or ""),
            total_amount=money(data.get("price")),
            shipping_amount=money(data.get("shipping_price")),
            customer_name=name[:200],
            customer_email=str(shipping.get("email") or "")[:254],
            shipping_address=shipping,
            billing_address=address(data.get("billing_address")),
            tracking_number=str(data.get("tracking_number") or "")[:120],
            tracking_url=str(data.get("tracking_url") or "")[:500],
            shipper=str(data.get("shipper_display") or data.get("shipper") or "")[:120],
            details={
                "state": state,
                "state_label": ORDER_STATE_LABELS.get(state, f"state {state}"),
                "country_code": data.get("country_code") or "",
                "date_payment": _iso(data.get("date_payment")),
                "date_shipping": _iso(data.get("date_shipping")),
                "expected_dispatch_date": _iso(data.get("expected_dispatch_date")),
                "date_bill_provided": _iso(data.get("date_bill_provided")),
                "shipper": data.get("shipper") or "",
                "shipper_display": data.get("shipper_display") or "",
                "is_backship": bool(data.get("is_backship")),
                "delivery_note": data.get("delivery_note") or "",
                "sales_taxes": data.get("sales_taxes"),
                "paypal_reference": data.get("paypal_reference"),
                "psp_reference": data.get("psp_reference"),
                "installment_payment": bool(data.get("installment_payment")),
                "payment_method": data.get("payment_method") or "",
                "merchant_id": data.get("merchant_id"),
                "delivery_mode": data.get("delivery_mode"),
            },
            raw=data,
            items=items,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(str(order_id or "?"), f"order could not be read: {exc}") from exc


@dataclass
class ListingRecord:
    external_id: str
    legacy_id: str = ""
    product_id: str = ""
    sku: str = ""
    title: str = ""
    price: Decimal | None = None
    min_price: Decimal | None = None
    currency: str = ""
    quantity: int = 0
    publication_state: str = ""
    grade: str = ""
    warranty_delay: int | None = None
    comment: str = ""
    shipping_options: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        refuse_below_zero("quantity", self.quantity)


def listing_record(data: dict) -> ListingRecord:
    listing_id = data.get("id") if isinstance(data, dict) else None
    try:
        if not listing_id:
            raise ValueError("id is missing")
        publication = data.get("publication_state")
        return ListingRecord(
            external_id=str(listing_id),
            legacy_id=str(data.get("listing_id") or ""),
            product_id=str(data.get("product_id") or ""),
            sku=str(data.get("sku") or "")[:120],
            title=str(data.get("title") or "")[:500],
            price=money(data.get("price")),
            min_price=money(data.get("min_price")),
            currency=str(data.get("currency") or ""),
            quantity=_int(data.get("quantity")),
            publication_state=str(publication) if publication is not None else "",
            grade=str(data.get("grade") or ""),
            warranty_delay=_int(data["warranty_delay"]) if data.get("warranty_delay") not in (None, "") else None,
            comment=str(data.get("comment") or ""),
            shipping_options=list(data.get("shippings") or []),
            details={
                "publication_state_label": PUBLICATION_STATE_LABELS.get(_int(publication, -1), "") if publication is not None else "",
                "max_price": data.get("max_price"),
                "backmarket_id": data.get("backmarket_id"),
                "state": data.get("state"),
                "new_battery": bool(data.get("new_battery")),
            },
            raw={k: v for k, v in data.items() if k not in ("statuscode", "shippings_response")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(str(listing_id or "?"), f"listing could not be read: {exc}") from exc


@dataclass
class ShipmentRecord:
    """A BackShip delivery or return."""

    kind: str  # delivery | return
    external_id: str
    order_external_id: str
    orderline_ids: list[str]
    carrier_id: str = ""
    carrier_name: str = ""
    reference_number: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    hub_scanned: bool = False
    invoiced_price: int | None = None
    invoiced_currency: str = ""
    created_at: datetime | None = None
    pickup_at: datetime | None = None
    delivered_at: datetime | None = None
    label_url: str = ""
    pickup_info: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    # Filled by the adapter when it fetched the label this time.
    label_content: bytes | None = None
    label_error: str = ""


def shipment_record(data: dict, *, kind: str) -> ShipmentRecord:
    shipment_id = data.get("shipmentId") if isinstance(data, dict) else None
    try:
        if shipment_id in (None, ""):
            raise ValueError("shipmentId is missing")
        if kind == "delivery":
            order_id = data.get("order")
            lines = [str(_int(x)) for x in data.get("orderlines") or []]
            label = data.get("labelUrl") or ""
        else:
            order_id = data.get("orderId")
            lines = [str(_int(data["orderlineId"]))] if data.get("orderlineId") not in (None, "") else []
            label = data.get("label") or ""
        price = data.get("invoicedPrice")
        return ShipmentRecord(
            kind=kind,
            external_id=str(_int(shipment_id)),
            order_external_id=str(_int(order_id)) if order_id not in (None, "") else "",
            orderline_ids=lines,
            carrier_id=str(data.get("carrierId") or ""),
            carrier_name=str(data.get("carrierName") or ""),
            reference_number=str(data.get("referenceNumber") or ""),
            tracking_number=str(data.get("trackingNumber") or ""),
            tracking_url=str(data.get("trackingUrl") or "")[:500],
            hub_scanned=bool(data.get("hubScanned")),
            invoiced_price=_int(price) if price not in (None, "") else None,
            invoiced_currency=str(data.get("invoicedCurrency") or ""),
            created_at=parse_datetime(data.get("dateCreation")),
            pickup_at=parse_datetime(data.get("datePickup")),
            delivered_at=parse_datetime(data.get("dateDelivery")),
            label_url=str(label)[:500],
            pickup_info=data.get("pickupInfo") or {},
            raw=data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(str(shipment_id or "?"), f"{kind} could not be read: {exc}") from exc
