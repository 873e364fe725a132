"""Storing orders and their items, one page at a time, for every marketplace; and what follows a stored page
(BackShip shipments linked to their orders; stock reserved, released or consumed through the one ledger, for
the items of every marketplace alike)."""

from __future__ import annotations

from django.db import transaction

from backship.services import shipment_link_orders
from connections.models import Connection
from inventory.catalog import catalog_apply
from inventory.services import reservation_apply_orders, stock_lock_organization
from marketsync.sync.errors import BadRecord
from marketsync.sync.limits import fit_row
from marketsync.sync.records import OrderItemRecord, OrderRecord
from marketsync.sync.statuses import BRICKLINK_PURGED
from marketsync.sync.upsert import UpsertResult, bulk_upsert, fitting_rows
from orders.models import Order, OrderItem

ORDER_FIELDS = [
    "status", "marketplace_status", "placed_at", "marketplace_updated_at", "ship_by", "currency", "total_amount",
    "subtotal_amount", "shipping_amount", "customer_name", "customer_email", "shipping_address",
    "billing_address", "tracking_number", "tracking_url", "shipper", "details", "raw",
]
ITEM_FIELDS = [
    "status", "marketplace_status", "sku", "title", "quantity", "unit_price", "currency", "imei", "serial_number",
    "listing_ref", "image_url", "part_number", "item_type", "color_id", "color_name", "condition", "completeness",
    "remarks", "location", "details", "raw", "brickowl_boid", "brickowl_color_id", "brickowl_type",
]


def order_upsert_page(*, connection: Connection, records: list[OrderRecord], source: str = "sync") -> UpsertResult:
    """Store a page of orders with their items (a constant number of queries, whatever the page size), then their
    stock: all inside the caller's (page) transaction.

    An order's ``items_count`` is the sum of its item quantities. Items are
    keyed by the marketplace's own id, unique per connection. An order with a
    value that does not fit its column, its own or one of its items', is not
    stored at all (never half) and is named in ``bad_records``. Each item
    reserves, releases or consumes its stock item through the ledger
    (``inventory.services.reservation_apply_orders``), once however often it is read. The organization's
    stock is held first (``stock_lock_organization``), before the orders' own rows, so a page and an import
    linking listings at the same time neither miss nor deadlock each other. Brick Owl's items are first put in
    BrickLink's terms (its colour ids and BOIDs are its own); one that cannot be translated yet is stored with
    blank BrickLink ids, listed as unmapped, and matched by its lot where it can be.
    """
    with transaction.atomic(savepoint=False):  # the page's transaction, where there is one
        stock_lock_organization(organization_id=connection.organization_id)
        if connection.marketplace == "brickowl":
            items = [item for record in records for item in (record.items or [])]
            if items:
                catalog_apply(organization_id=connection.organization_id, rows=items)
        purged = _keep_purged_outcomes(connection, records)
        result, stored, fresh_items = order_upsert_records(connection=connection, records=records)
        present = {str(r.external_id): {i.external_id for i in r.items} for r in records if r.items is not None}
        reservation_apply_orders(connection=connection, orders=[o for o in stored if o.external_id not in purged],
                                 present=present, source=source, fresh_items=fresh_items)
    return result


def backmarket_order_upsert_page(*, connection: Connection, records: list[OrderRecord]) -> UpsertResult:
    """Back Market orders, then link the BackShip deliveries and returns that arrived before them."""
    result = order_upsert_page(connection=connection, records=records)
    shipment_link_orders(connection=connection, order_external_ids=[r.external_id for r in records])
    return result


def brick_order_upsert_page(*, connection: Connection, records: list[OrderRecord], source: str = "sync") -> UpsertResult:
    """BrickLink and Brick Owl orders: stored and reserved as every marketplace's (the wiring's name for them)."""
    return order_upsert_page(connection=connection, records=records, source=source)


def _keep_purged_outcomes(connection: Connection, records: list[OrderRecord]) -> set[str]:
    """BrickLink's PURGED orders: BrickLink deleted their items about six months after they closed. Each keeps its
    last known outcome and its items (the record's empty item list is not the order's), and none moves stock.
    Returns their external ids. One never stored keeps what its record says (``bricklink_purged_outcome``)."""
    purged = {str(r.external_id): r for r in records if r.marketplace_status == BRICKLINK_PURGED
              and connection.marketplace == "bricklink"}
    if not purged:
        return set()
    for external_id, status in Order.objects.filter(connection=connection, external_id__in=list(purged)).values_list(
        "external_id", "status"
    ):
        purged[external_id].status = status
        purged[external_id].items = None
    return set(purged)


def _item_row(connection: Connection, item: OrderItemRecord) -> OrderItem:
    return OrderItem(organization_id=connection.organization_id, connection=connection, external_id=str(item.external_id),
                     **{f: getattr(item, f) for f in ITEM_FIELDS})


def _item_misfit(row: OrderItem) -> str | None:
    """What keeps an item (and so its order) out: a value its column cannot hold, or a quantity below zero."""
    problem = fit_row(row)
    if problem is None and int(row.quantity) < 0:
        problem = f"quantity {row.quantity} is below zero"
    return f"item {row.external_id}: {problem}" if problem else None


def order_upsert_records(*, connection: Connection, records: list[OrderRecord]
                         ) -> tuple[UpsertResult, list[Order], dict[int, list[OrderItem]]]:
    """As ``order_upsert_page``, also returning the stored orders (with pks) for follow-up work, and the orders this
    call inserted whose every item it inserted too, with those items (by order pk): nothing stored refers to them."""
    bad: list[BadRecord] = []
    orders, items_of = [], {}
    # An order whose items were not fetched keeps its stored count (one query, only when there is such an order).
    unfetched = [str(r.external_id) for r in records if r.items is None]
    kept_counts = dict(Order.objects.filter(connection=connection, external_id__in=unfetched).values_list(
        "external_id", "items_count")) if unfetched else {}
    for record in records:
        external_id = str(record.external_id)
        items = [_item_row(connection, item) for item in record.items or []]
        problem = next((p for p in map(_item_misfit, items) if p), None)
        if problem:
            bad.append(BadRecord(external_id, problem))
            continue
        values = {f: getattr(record, f) for f in ORDER_FIELDS}
        values["items_count"] = (sum(item.quantity for item in record.items) if record.items is not None
                                 else kept_counts.get(external_id, 0))
        orders.append(Order(organization_id=connection.organization_id, connection=connection,
                            marketplace=connection.marketplace, external_id=external_id, **values))
        items_of[external_id] = items
    orders, misfits = fitting_rows(orders, unique_fields=["connection", "external_id"])
    update_fields = ORDER_FIELDS + ["last_synced_at", "items_count"]
    # ``last_synced_at`` says when an order was last read (re-reads are paced by it): written even when nothing
    # else changed, which is then counted unchanged.
    result, stored = bulk_upsert(Order, orders, unique_fields=["connection", "external_id"], update_fields=update_fields,
                                 fitted=True, touch_unchanged=True)
    result.bad_records = bad + misfits
    items = []
    for order in stored:
        for item in items_of[order.external_id]:
            item.order = order
            items.append(item)
    item_result, _ = bulk_upsert(OrderItem, items, unique_fields=["connection", "external_id"],
                                 update_fields=ITEM_FIELDS + ["order", "last_synced_at"], fitted=True)
    # An order whose own row is unchanged but an item of which was written (an edit, a refunded line) changed.
    with_items_written = {item.order_id for item in items if item.pk in item_result.written}
    moved = sum(1 for order in stored if order.pk in with_items_written and order.pk not in result.written)
    result.changed, result.unchanged = result.changed + moved, result.unchanged - moved
    # An item an inserted order took over from another (it was stored before) may hold a reservation: such an
    # order is read back, not taken as given.
    took_over = {item.order_id for item in items if item.pk not in item_result.inserted}
    fresh_items = {order.pk: items_of[order.external_id] for order in stored
                   if order.pk in result.inserted and order.pk not in took_over}
    return result, stored, fresh_items
