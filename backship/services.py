"""BackShip storage: Back Market deliveries and returns, linked to their orders, and their label files.

The writes about an order (IMEI/serial, accept, cancel, ship, invoice) are in ``orders/writes.py``.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from backship.models import Delivery, Return, label_upload_to
from connections.models import Connection
from marketsync.marketplaces.backmarket.mapping import ShipmentRecord
from marketsync.sync.upsert import UpsertResult, bulk_upsert
from orders.models import Order, OrderItem

SHIPMENT_FIELDS = [
    "order", "order_external_id", "carrier_id", "carrier_name", "reference_number", "tracking_number", "tracking_url",
    "hub_scanned", "invoiced_price", "invoiced_currency", "created_at", "pickup_at", "delivered_at", "label_url", "raw",
]


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
    records = [r for r in records if r.external_id in by_external]  # a shipment that did not fit is named in the result
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
