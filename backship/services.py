"""BackShip storage, and the writes to Back Market about an order.

Writes (IMEI/serial, accept, cancel, ship, invoice) validate locally first,
send through the Back Market client, record an audit row whatever happens,
and on success re-read the order so the local copy matches Back Market.
Pages, admin and the ``backmarket`` command all call these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from backship.models import Delivery, Return, label_upload_to
from connections.models import AuditEntry, Connection
from connections.services import audit_record
from marketsync.marketplaces.backmarket.client import BackMarketClient, LocalValidationError
from marketsync.marketplaces.backmarket.mapping import ShipmentRecord
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import MarketplaceError
from marketsync.sync.http import build_http_client
from marketsync.sync.upsert import UpsertResult, bulk_upsert
from orders.models import Order, OrderItem

SHIPMENT_FIELDS = [
    "order", "order_external_id", "carrier_id", "carrier_name", "reference_number", "tracking_number", "tracking_url",
    "hub_scanned", "invoiced_price", "invoiced_currency", "created_at", "pickup_at", "delivered_at", "label_url", "raw",
]
IMEI_LENGTH = 15
SERIAL_MAX = 50
CLOSED_LINE_STATES = {"4", "5", "6", "7"}


# ------------------------------------------------------------------ storage (sync)
def shipment_upsert_page(*, connection: Connection, records: list[ShipmentRecord]) -> UpsertResult:
    """Store deliveries or returns, linked to their orders and orderlines when those are stored.

    Labels fetched this time are written to file storage once; a failed
    download is noted and retried by the next sync.
    """
    if not records:
        return UpsertResult()
    kind = records[0].kind
    model = Delivery if kind == "delivery" else Return
    orders = {
        o.external_id: o
        for o in Order.objects.filter(connection=connection, external_id__in={r.order_external_id for r in records})
    }
    line_ids = {line for r in records for line in r.orderline_ids}
    items = {i.external_id: i for i in OrderItem.objects.filter(connection=connection, external_id__in=line_ids)}
    rows = []
    for record in records:
        values: dict[str, Any] = {
            "order": orders.get(record.order_external_id),
            **{f: getattr(record, f) for f in SHIPMENT_FIELDS if f != "order"},
        }
        if kind == "delivery":
            values.update(orderline_ids=record.orderline_ids, pickup_info=record.pickup_info)
        else:
            line = record.orderline_ids[0] if record.orderline_ids else ""
            values.update(orderline_external_id=line, order_item=items.get(line))
        rows.append(model(organization_id=connection.organization_id, connection=connection, external_id=record.external_id, **values))
    update_fields = SHIPMENT_FIELDS + ["last_synced_at"]
    update_fields += ["orderline_ids", "pickup_info"] if kind == "delivery" else ["orderline_external_id", "order_item"]
    result, stored = bulk_upsert(model, rows, unique_fields=["connection", "external_id"], update_fields=update_fields)
    by_external = {row.external_id: row for row in stored}
    if kind == "delivery":
        through = Delivery.items.through
        links = [
            through(delivery_id=by_external[r.external_id].pk, orderitem_id=items[line].pk)
            for r in records for line in r.orderline_ids if line in items
        ]
        if links:
            through.objects.bulk_create(links, ignore_conflicts=True)
    for record in records:
        row = by_external[record.external_id]
        if record.label_content:
            name = default_storage.save(label_upload_to(row, "label.pdf"), ContentFile(record.label_content))
            model.objects.filter(pk=row.pk).update(
                label_file=name, label_downloaded_at=timezone.now(), label_error="", label_attempts=F("label_attempts") + 1
            )
        elif record.label_error:
            model.objects.filter(pk=row.pk).update(label_error=record.label_error[:300], label_attempts=F("label_attempts") + 1)
    return result


def shipment_link_orders(*, connection: Connection, order_external_ids: list[str]) -> int:
    """Link deliveries and returns stored before their order (and its lines) arrived; returns how many."""
    linked = 0
    for model in (Delivery, Return):
        waiting = list(model.objects.filter(connection=connection, order__isnull=True, order_external_id__in=order_external_ids))
        if not waiting:
            continue
        wanted = {w.order_external_id for w in waiting}
        orders = {o.external_id: o for o in Order.objects.filter(connection=connection, external_id__in=wanted)}
        lines = {i.external_id: i for i in OrderItem.objects.filter(order__in=orders.values())}
        for row in waiting:
            row.order = orders.get(row.order_external_id)
            if row.order is None:
                continue
            linked += 1
            if model is Return:
                row.order_item = lines.get(row.orderline_external_id)
                row.save(update_fields=["order", "order_item"])
            else:
                row.save(update_fields=["order"])
                row.items.add(*[lines[line] for line in row.orderline_ids if line in lines])
    return linked


# ------------------------------------------------------------------ writes
def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value * 2 > 9 else value * 2
        total += value
    return total % 10 == 0


def imei_error(imei: str) -> str:
    if len(imei) != IMEI_LENGTH or not imei.isdigit():
        return f"IMEI must be exactly {IMEI_LENGTH} digits (got {len(imei)} characters)."
    if not luhn_valid(imei):
        return "IMEI check digit is wrong (Luhn): check the number."
    return ""


def _actor(user, actor: str) -> str:
    return actor or ("" if user is not None and getattr(user, "is_authenticated", False) else "system")


def _run_write(
    *,
    connection: Connection,
    action: str,
    target_type: str,
    target_id: str,
    summary: dict,
    call: Callable[[BackMarketClient], Any],
    after: Callable[[BackMarketClient, Any], Any] | None = None,
    order: Order | None = None,
    user=None,
    actor: str = "",
    transport: httpx.BaseTransport | None = None,
) -> Any:
    """Send one write, audit it, then refresh the local copy (``after``)."""
    organization = connection.organization
    with build_http_client(transport=transport) as http:
        client = marketplace_client(connection, http)
        try:
            result = call(client)
        except MarketplaceError as exc:
            audit_record(
                organization=organization, connection=connection, user=user, actor=_actor(user, actor), action=action,
                target_type=target_type, target_id=target_id, order=order, request_summary=summary,
                outcome=AuditEntry.Outcome.FAILURE, error=str(exc),
            )
            raise
        audit_record(
            organization=organization, connection=connection, user=user, actor=_actor(user, actor), action=action,
            target_type=target_type, target_id=target_id, order=order, request_summary=summary,
            outcome=AuditEntry.Outcome.SUCCESS,
        )
        if after is None:
            return result
        try:
            return after(client, result)
        except MarketplaceError:
            # The write happened; a failed re-read is caught up by the next sync.
            return result


def _refuse(*, connection: Connection, action: str, target_type: str, target_id: str, summary: dict, message: str,
            order: Order | None, user, actor: str) -> None:
    audit_record(
        organization=connection.organization, connection=connection, user=user, actor=_actor(user, actor), action=action,
        target_type=target_type, target_id=target_id, order=order, request_summary={**summary, "refused_locally": True},
        outcome=AuditEntry.Outcome.FAILURE, error=message,
    )
    raise LocalValidationError(message)


def order_refresh_with_client(*, client: BackMarketClient, order: Order) -> Order:
    """Re-read one order (and its BackShip deliveries) from Back Market and store it."""
    from marketsync.sync.refresh import record_refresh

    record_refresh(connection=order.connection, entity="orders", external_id=order.external_id, http=client.http.http)
    return Order.objects.get(pk=order.pk)


def _check_backmarket(order: Order) -> None:
    if order.marketplace != "backmarket":
        raise LocalValidationError(f"Order {order.external_id} is not a Back Market order.")


def orderline_identifiers_set(
    *, item: OrderItem, imei: str = "", serial_number: str = "", user=None, actor: str = "",
    transport: httpx.BaseTransport | None = None,
) -> OrderItem:
    """Set the IMEI and/or serial number of an orderline (write-once at Back Market)."""
    order = item.order
    _check_backmarket(order)
    connection = order.connection
    imei, serial_number = (imei or "").strip(), (serial_number or "").strip()
    summary = {"orderline": item.external_id, "imei": imei, "serial_number": serial_number}
    refuse = dict(connection=connection, action="orderline_identifiers", target_type="orderline", target_id=item.external_id,
                  summary=summary, order=order, user=user, actor=actor)
    if not imei and not serial_number:
        _refuse(message="Give an IMEI or a serial number.", **refuse)
    if imei and item.imei:
        _refuse(message=f"Orderline {item.external_id} already has IMEI {item.imei}; Back Market cannot correct it.", **refuse)
    if serial_number and item.serial_number:
        _refuse(message=f"Orderline {item.external_id} already has a serial number; Back Market cannot correct it.", **refuse)
    if imei and imei_error(imei):
        _refuse(message=imei_error(imei), **refuse)
    if len(serial_number) > SERIAL_MAX:
        _refuse(message=f"Serial number must be at most {SERIAL_MAX} characters (got {len(serial_number)}).", **refuse)
    _run_write(
        connection=connection, action="orderline_identifiers", target_type="orderline", target_id=item.external_id,
        summary=summary, order=order, user=user, actor=actor, transport=transport,
        call=lambda client: client.orderline_identifiers(item.external_id, imei=imei, serial_number=serial_number),
        after=lambda client, _: order_refresh_with_client(client=client, order=order),
    )
    return OrderItem.objects.get(pk=item.pk)


def _orderline_state_change(*, item: OrderItem, new_state: int, action: str, allowed_from: set[str], user, actor: str,
                            transport) -> Order:
    order = item.order
    _check_backmarket(order)
    connection = order.connection
    summary = {"order_id": order.external_id, "orderline": item.external_id, "sku": item.sku, "new_state": new_state}
    if item.marketplace_status not in allowed_from:
        _refuse(
            connection=connection, action=action, target_type="orderline", target_id=item.external_id, summary=summary,
            order=order, user=user, actor=actor,
            message=(f"Orderline {item.external_id} is in state {item.marketplace_status} "
                     f"({item.details.get('state_label', '')}); it can be {action.split('_')[-1]}ed only from state "
                     f"{' or '.join(sorted(allowed_from))}."),
        )
    return _run_write(
        connection=connection, action=action, target_type="orderline", target_id=item.external_id, summary=summary,
        order=order, user=user, actor=actor, transport=transport,
        call=lambda client: client.order_update(order.external_id, {"new_state": new_state, "sku": item.sku}),
        after=lambda client, _: order_refresh_with_client(client=client, order=order),
    )


def orderline_accept(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    """Accept a paid orderline (1 → 2). For a BackShip order this creates the label."""
    return _orderline_state_change(item=item, new_state=2, action="orderline_accept", allowed_from={"1"}, user=user,
                                   actor=actor, transport=transport)


def orderline_cancel(*, item: OrderItem, user=None, actor: str = "", transport: httpx.BaseTransport | None = None) -> Order:
    """Cancel (refuse) a paid orderline (1 → 4)."""
    return _orderline_state_change(item=item, new_state=4, action="orderline_cancel", allowed_from={"1"}, user=user,
                                   actor=actor, transport=transport)


def order_ship(
    *, order: Order, tracking_number: str, tracking_url: str = "", shipper: str = "", user=None, actor: str = "",
    transport: httpx.BaseTransport | None = None,
) -> Order:
    """Mark every accepted line shipped (2 → 3) with the tracking number, URL and shipper."""
    _check_backmarket(order)
    connection = order.connection
    tracking_number, tracking_url, shipper = (tracking_number or "").strip(), (tracking_url or "").strip(), (shipper or "").strip()
    summary = {"order_id": order.external_id, "tracking_number": tracking_number, "tracking_url": tracking_url, "shipper": shipper}
    refuse = dict(connection=connection, action="order_ship", target_type="order", target_id=order.external_id,
                  summary=summary, order=order, user=user, actor=actor)
    if not tracking_number:
        _refuse(message="A tracking number is required to ship.", **refuse)
    if len(tracking_number) > 200 or len(shipper) > 200:
        _refuse(message="Tracking number and shipper must be at most 200 characters.", **refuse)
    if len(tracking_url) > 300 or (tracking_url and not tracking_url.startswith(("http://", "https://"))):
        _refuse(message="Tracking URL must be an http(s) URL of at most 300 characters.", **refuse)
    states = list(order.items.values_list("external_id", "marketplace_status"))
    active = [(line, state) for line, state in states if state not in CLOSED_LINE_STATES]
    blocked = [f"{line} (state {state})" for line, state in active if state != "2"]
    if not active or blocked:
        _refuse(message=(f"Order {order.external_id} cannot be shipped: every orderline must be accepted first; "
                         f"not accepted: {', '.join(blocked) or 'no open line'}."), **refuse)
    body = {"new_state": 3, "tracking_number": tracking_number}
    if tracking_url:
        body["tracking_url"] = tracking_url
    if shipper:
        body["shipper"] = shipper
    return _run_write(
        connection=connection, action="order_ship", target_type="order", target_id=order.external_id, summary=summary,
        order=order, user=user, actor=actor, transport=transport,
        call=lambda client: client.order_update(order.external_id, body),
        after=lambda client, _: order_refresh_with_client(client=client, order=order),
    )


def order_invoice_upload(
    *, order: Order, filename: str, content: bytes, user=None, actor: str = "", transport: httpx.BaseTransport | None = None,
) -> Order:
    """Upload the invoice PDF of an order (multipart field ``invoice``)."""
    _check_backmarket(order)
    connection = order.connection
    filename = (filename or "invoice.pdf").rsplit("/", 1)[-1]
    summary = {"order_id": order.external_id, "file_name": filename, "bytes": len(content or b"")}
    refuse = dict(connection=connection, action="order_invoice", target_type="order", target_id=order.external_id,
                  summary=summary, order=order, user=user, actor=actor)
    if not content:
        _refuse(message="The invoice file is empty.", **refuse)
    if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-1024:]:
        _refuse(message=f"{filename} is not a PDF file.", **refuse)
    if len(content) > 10 * 1024 * 1024:
        _refuse(message="The invoice is larger than 10 MB.", **refuse)
    return _run_write(
        connection=connection, action="order_invoice", target_type="order", target_id=order.external_id, summary=summary,
        order=order, user=user, actor=actor, transport=transport,
        call=lambda client: client.invoice_upload(order.external_id, filename=filename, content=content),
        after=lambda client, _: order_refresh_with_client(client=client, order=order),
    )
