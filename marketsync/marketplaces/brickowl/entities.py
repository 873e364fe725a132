"""Brick Owl's orders and inventory entities on the sync engine.

Orders: ``/order/list`` by ``order_time`` (with a lookback) finds new orders
and status changes; orders not in a final state are re-viewed each tick,
since the list carries no update time (tracking, refunds and notes only show
in the view). Inventory: a full ``/inventory/list?active_only=0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from connections.models import Connection
from inventory.services import inventory_mark_removed, inventory_upsert_lots
from marketsync.marketplaces import Entity, Marketplace
from marketsync.marketplaces.bricklink.entities import sync_start, upsert_orders
from marketsync.marketplaces.brickowl.mapping import STATUS_NAMES, lot_record, order_record, status_id_of, text
from marketsync.sync.clients import marketplace_client
from marketsync.sync.records import OPEN_STATUSES, OrderRecord
from marketsync.sync.registry import EntitySpec, Page, UpsertResult, fetched_pages, register, whole_sweep_page
from orders.models import Order

PAGE_SIZE = 25
LOOKBACK = timedelta(minutes=15)


def client_for(connection, http):
    return marketplace_client(connection, http)


class OrdersAdapter:
    def __init__(self, connection: Connection, http: httpx.Client) -> None:
        self.connection = connection
        self.client = client_for(connection, http)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = sync_start(cursor)
        since = int(cursor.get("order_time") or start.timestamp())
        lookback = max(LOOKBACK.total_seconds(), settings.SYNC_LOOKBACK_SECONDS)
        entries = self.client.order_list(order_time=int(since - lookback), limit=5000, list_type="store")
        stored = dict(
            Order.objects.filter(connection=self.connection).filter(
                external_id__in=[text(e.get("order_id")) for e in entries]
            ).values_list("external_id", "marketplace_status")
        )
        full: dict[str, dict] = {}
        latest = since
        for entry in entries:
            order_id = text(entry.get("order_id"))
            latest = max(latest, int(text(entry.get("order_date")) or 0))
            known = stored.get(order_id)
            if known is None or known != STATUS_NAMES.get(status_id_of(entry), known):
                full[order_id] = entry
        open_orders = list(
            Order.objects.filter(connection=self.connection, status__in=list(OPEN_STATUSES))
            .exclude(external_id__in=list(full)).values_list("external_id", "marketplace_status")
        )
        base = {"start": start.isoformat(), "order_time": latest, "checked_at": timezone.now().isoformat()}
        # Until the last page is stored, keep the old order time: the orders of later pages are not stored yet.
        holding = {k: v for k, v in {**base, "order_time": cursor.get("order_time")}.items() if v is not None}
        work = [(oid, entry, True) for oid, entry in full.items()] + [(oid, {"order_id": oid}, False) for oid, _ in open_orders]
        self._previous = dict(open_orders)
        if not work:
            yield Page(records=[], cursor=base)
            return
        yield from fetched_pages(
            work, self._fetch_unit, record_id=lambda unit: unit[0], page_size=PAGE_SIZE, cursor=base, holding_cursor=holding
        )

    def _fetch_unit(self, unit: tuple) -> OrderRecord:
        order_id, entry, with_items = unit
        view = self.client.order_view(order_id)
        changed = self._previous.get(order_id) not in (None, STATUS_NAMES.get(status_id_of(view)))
        items = self.client.order_items(order_id) if (with_items or changed) else None
        return order_record(entry, view, items)

    def fetch(self, order_id: str) -> OrderRecord:
        view = self.client.order_view(order_id)
        return order_record({"order_id": order_id}, view, self.client.order_items(order_id))


def refresh_order(connection: Connection, http: httpx.Client, external_id: str) -> UpsertResult:
    record = OrdersAdapter(connection, http).fetch(external_id)
    return upsert_orders(connection=connection, records=[record], source="refresh")


class InventoryAdapter:
    def __init__(self, connection: Connection, http: httpx.Client) -> None:
        self.client = client_for(connection, http)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        yield whole_sweep_page(self.client.inventory_list(), lot_record, lambda raw: text(raw.get("lot_id")), started_at=started)


register(EntitySpec(
    marketplace=Marketplace.BRICKOWL,
    entity=Entity.ORDERS,
    adapter=OrdersAdapter,
    upsert_page=upsert_orders,
    refresh_one=refresh_order,
))
register(EntitySpec(
    marketplace=Marketplace.BRICKOWL,
    entity=Entity.INVENTORY,
    adapter=InventoryAdapter,
    upsert_page=inventory_upsert_lots,
    mark_removed=inventory_mark_removed,
))
