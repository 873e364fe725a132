"""Writes about an order at its marketplace: a Back Market orderline's IMEI/serial, accept, cancel, ship, invoice.

Each goes through ``marketplace_write``: checked here in full first (a refusal is audited and nothing is
sent), audited as an intent, sent, its outcome recorded, then the order re-read so the local copy matches
the marketplace. The order page, the admin and ``manage.py orders`` all call these functions.

Not in ``orders/services.py``: the engine's wiring table imports that module to store orders, and these
functions import the engine's write helper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from marketsync.marketplaces.backmarket.client import BackMarketClient
from marketsync.sync.writes import WriteRefused, marketplace_write, refuse_control_characters
from orders.models import Order, OrderItem

IMEI_LENGTH = 15
SERIAL_MAX = 50
TRACKING_MAX = 200
TRACKING_URL_MAX = 300
INVOICE_MAX_BYTES = 10 * 1024 * 1024
CLOSED_LINE_STATES = {"4", "5", "6", "7"}


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value * 2 > 9 else value * 2
        total += value
    return total % 10 == 0


def imei_error(imei: str) -> str:
    if len(imei) != IMEI_LENGTH or not (imei.isascii() and imei.isdigit()):  # "٤" is a digit to isdigit() alone
        return f"IMEI must be exactly {IMEI_LENGTH} digits (got {len(imei)} characters)."
    if not luhn_valid(imei):
        return "IMEI check digit is wrong (Luhn): check the number."
    return ""


def _is_web_address(text: str) -> bool:
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        return False
    return True


def _backmarket_write(
    *, order: Order, action: str, target_type: str, target_id: str, summary: dict[str, Any], checks: Callable[[], None],
    send: Callable[[BackMarketClient], Any], user, actor: str, transport: httpx.BaseTransport | None,
) -> Order:
    """One Back Market write about ``order``: ``checks()`` refuses what cannot be sent; the order is re-read after."""

    def validate() -> None:
        if order.marketplace != "backmarket":
            raise WriteRefused(f"Order {order.external_id} is not a Back Market order.")
        checks()

    marketplace_write(
        connection=order.connection, action=action, target_type=target_type, target_id=target_id, summary=summary,
        validate=validate, send=send, refresh=("orders", order.external_id), order=order, user=user, actor=actor,
        transport=transport,
    )
    return Order.objects.get(pk=order.pk)


def orderline_identifiers_set(
    *, item: OrderItem, imei: str = "", serial_number: str = "", user=None, actor: str = "",
    transport: httpx.BaseTransport | None = None,
) -> OrderItem:
    """Set the IMEI and/or serial number of an orderline (write-once at Back Market)."""
    imei, serial_number = (imei or "").strip(), (serial_number or "").strip()

    def checks() -> None:
        if not imei and not serial_number:
            raise WriteRefused("Give an IMEI or a serial number.")
        if imei and item.imei:
            raise WriteRefused(f"Orderline {item.external_id} already has IMEI {item.imei}; Back Market cannot correct it.")
        if serial_number and item.serial_number:
            raise WriteRefused(f"Orderline {item.external_id} already has a serial number; Back Market cannot correct it.")
        if imei and imei_error(imei):
            raise WriteRefused(imei_error(imei))
        refuse_control_characters("Serial number", serial_number)
        if len(serial_number) > SERIAL_MAX:
            raise WriteRefused(f"Serial number must be at most {SERIAL_MAX} characters (got {len(serial_number)}).")

    _backmarket_write(
        order=item.order, action="orderline_identifiers", target_type="orderline", target_id=item.external_id,
        summary={"orderline": item.external_id, "imei": imei, "serial_number": serial_number}, checks=checks,
        send=lambda client: client.orderline_identifiers(item.external_id, imei=imei, serial_number=serial_number),
        user=user, actor=actor, transport=transport,
    )
    return OrderItem.objects.get(pk=item.pk)


def _orderline_state_change(*, item: OrderItem, new_state: int, action: str, verb: str, user, actor: str,
                            transport: httpx.BaseTransport | None) -> Order:
    order = item.order

    def checks() -> None:
        if item.marketplace_status != "1":
            raise WriteRefused(
                f"Orderline {item.external_id} is in state {item.marketplace_status} "
                f"({item.details.get('state_label', '')}); it can be {verb} only from state 1."
            )

    return _backmarket_write(
        order=order, action=action, target_type="orderline", target_id=item.external_id,
        summary={"order_id": order.external_id, "orderline": item.external_id, "sku": item.sku, "new_state": new_state},
        checks=checks, send=lambda client: client.order_update(order.external_id, {"new_state": new_state, "sku": item.sku}),
        user=user, actor=actor, transport=transport,
    )


def orderline_accept(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    """Accept a paid orderline (1 → 2). For a BackShip order this creates the label."""
    return _orderline_state_change(item=item, new_state=2, action="orderline_accept", verb="accepted", user=user, actor=actor,
                                   transport=transport)


def orderline_cancel(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    """Cancel (refuse) a paid orderline (1 → 4)."""
    return _orderline_state_change(item=item, new_state=4, action="orderline_cancel", verb="cancelled", user=user, actor=actor,
                                   transport=transport)


def order_ship(
    *, order: Order, tracking_number: str, tracking_url: str = "", shipper: str = "", user=None, actor: str = "",
    transport: httpx.BaseTransport | None = None,
) -> Order:
    """Mark every accepted line shipped (2 → 3) with the tracking number, URL and shipper."""
    tracking_number, tracking_url, shipper = (tracking_number or "").strip(), (tracking_url or "").strip(), (shipper or "").strip()
    body: dict[str, Any] = {"new_state": 3, "tracking_number": tracking_number}
    if tracking_url:
        body["tracking_url"] = tracking_url
    if shipper:
        body["shipper"] = shipper

    def checks() -> None:
        if not tracking_number:
            raise WriteRefused("A tracking number is required to ship.")
        for label, value in (("Tracking number", tracking_number), ("Tracking URL", tracking_url), ("Shipper", shipper)):
            refuse_control_characters(label, value)
        if len(tracking_number) > TRACKING_MAX or len(shipper) > TRACKING_MAX:
            raise WriteRefused(f"Tracking number and shipper must be at most {TRACKING_MAX} characters.")
        if tracking_url and (len(tracking_url) > TRACKING_URL_MAX or not _is_web_address(tracking_url)):
            raise WriteRefused(f"Tracking URL must be an http(s) URL of at most {TRACKING_URL_MAX} characters.")
        states = list(order.items.values_list("external_id", "marketplace_status"))
        active = [(line, state) for line, state in states if state not in CLOSED_LINE_STATES]
        blocked = [f"{line} (state {state})" for line, state in active if state != "2"]
        if not active or blocked:
            raise WriteRefused(f"Order {order.external_id} cannot be shipped: every orderline must be accepted first; "
                               f"not accepted: {', '.join(blocked) or 'no open line'}.")

    return _backmarket_write(
        order=order, action="order_ship", target_type="order", target_id=order.external_id,
        summary={"order_id": order.external_id, "tracking_number": tracking_number, "tracking_url": tracking_url,
                 "shipper": shipper},
        checks=checks, send=lambda client: client.order_update(order.external_id, body), user=user, actor=actor,
        transport=transport,
    )


def order_invoice_upload(
    *, order: Order, filename: str, content: bytes, user=None, actor: str = "", transport: httpx.BaseTransport | None = None,
) -> Order:
    """Upload the invoice PDF of an order (multipart field ``invoice``)."""
    filename = "".join(ch for ch in (filename or "").rsplit("/", 1)[-1] if ch.isprintable())[:200] or "invoice.pdf"

    def checks() -> None:
        if not content:
            raise WriteRefused("The invoice file is empty.")
        if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-1024:]:
            raise WriteRefused(f"{filename} is not a PDF file.")
        if len(content) > INVOICE_MAX_BYTES:
            raise WriteRefused("The invoice is larger than 10 MB.")

    return _backmarket_write(
        order=order, action="order_invoice", target_type="order", target_id=order.external_id,
        summary={"order_id": order.external_id, "file_name": filename, "bytes": len(content or b"")}, checks=checks,
        send=lambda client: client.invoice_upload(order.external_id, filename=filename, content=content),
        user=user, actor=actor, transport=transport,
    )
