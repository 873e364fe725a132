"""BrickLink's orders and inventory entities on the sync engine, its call budget, and push notifications.

Orders: one ``GET /orders?direction=in`` per tick; an order's details and
items are fetched only when it is new or its ``date_status_changed`` moved,
so an idle tick costs exactly one call. Every call is counted per connection
and hour; past ``BRICKLINK_INVENTORY_PAUSE_AT`` of the daily limit the
inventory import pauses (orders continue), at the limit everything waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from connections.budget import bricklink_calls_last_24h, budget_admission
from connections.models import Connection
from inventory.services import inventory_mark_removed, inventory_upsert_lots, reservation_apply_orders
from marketsync.marketplaces import Entity, Marketplace
from marketsync.marketplaces.bricklink.mapping import lot_record, order_record, text, timestamp
from marketsync.sync.clients import marketplace_client
from marketsync.sync.errors import NotFound, RateLimited
from marketsync.sync.records import OPEN_STATUSES, OrderRecord
from marketsync.sync.registry import EntitySpec, Page, UpsertResult, fetched_pages, register, whole_sweep_page
from orders.models import Order
from orders.services import order_upsert_records

logger = logging.getLogger(__name__)
PAGE_SIZE = 25


def client_for(connection, http):
    return marketplace_client(connection, http)


def sync_start(cursor: dict) -> datetime:
    if cursor.get("start"):
        return datetime.fromisoformat(cursor["start"])
    if settings.SYNC_START_DATE:
        start = datetime.fromisoformat(settings.SYNC_START_DATE)
        return start if start.tzinfo else start.replace(tzinfo=UTC)
    return timezone.now() - timedelta(days=settings.SYNC_INITIAL_LOOKBACK_DAYS)


class OrdersAdapter:
    def __init__(self, connection: Connection, http: httpx.Client) -> None:
        self.connection = connection
        self.client = client_for(connection, http)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        start = sync_start(cursor)
        summaries = self.client.orders(direction="in")
        ids = [text(s.get("order_id")) for s in summaries]
        known = dict(
            Order.objects.filter(connection=self.connection, external_id__in=ids).values_list("external_id", "marketplace_updated_at")
        )
        changed: list[dict] = []
        latest = cursor.get("last_status_change") or ""
        for summary in summaries:
            order_id = text(summary.get("order_id"))
            try:
                moved_at = timestamp(summary.get("date_status_changed"))
                placed_at = timestamp(summary.get("date_ordered"))
            except ValueError:
                moved_at = placed_at = None
            if moved_at and moved_at.isoformat() > latest:
                latest = moved_at.isoformat()
            if order_id in known:
                stored = known[order_id]
                if stored is None or moved_at is None or moved_at > stored:
                    changed.append(summary)
            elif text(summary.get("status")).upper() != "PURGED" and (placed_at is None or placed_at >= start):
                changed.append(summary)
        now = timezone.now()
        base = {"start": start.isoformat(), "last_status_change": latest, "checked_at": now.isoformat(),
                "open_refreshed_at": cursor.get("open_refreshed_at") or now.isoformat()}
        if self._open_refresh_due(cursor, now):
            # Items can change without a status change, and notifications are not guaranteed: now and then
            # re-read the orders still open (never while the call budget is tight).
            listed = {text(s.get("order_id")): s for s in summaries}
            already = {text(s.get("order_id")) for s in changed}
            open_ids = Order.objects.filter(connection=self.connection, status__in=list(OPEN_STATUSES)).values_list(
                "external_id", flat=True
            )
            changed += [listed[i] for i in open_ids if i in listed and i not in already]
            base["open_refreshed_at"] = now.isoformat()
        if not changed:
            yield Page(records=[], cursor=base)
            return
        # Until the last page is stored, the open-order re-read is not done: keep it due.
        holding = {**base, "open_refreshed_at": cursor.get("open_refreshed_at") or now.isoformat()}
        yield from fetched_pages(
            changed,
            lambda summary: self.fetch(text(summary.get("order_id")), summary),
            record_id=lambda summary: text(summary.get("order_id")),
            page_size=PAGE_SIZE,
            cursor=base,
            holding_cursor=holding,
        )

    def _open_refresh_due(self, cursor: dict, now: datetime) -> bool:
        interval = settings.BRICKLINK_OPEN_ORDER_REFRESH_SECONDS
        if not interval or not cursor.get("open_refreshed_at"):
            return False
        if now - datetime.fromisoformat(cursor["open_refreshed_at"]) < timedelta(seconds=interval):
            return False
        limit = settings.BRICKLINK_DAILY_CALL_LIMIT
        return bricklink_calls_last_24h(connection=self.connection) < limit * settings.BRICKLINK_INVENTORY_PAUSE_AT

    def fetch(self, order_id: str, summary: dict | None = None) -> OrderRecord:
        detail = self.client.order(order_id)
        items = self.client.order_items(order_id)
        return order_record(summary or detail, detail, items)


def upsert_orders(*, connection: Connection, records: list[OrderRecord], source: str = "sync") -> UpsertResult:
    """Store the orders, then settle their stock: all inside the caller's (page) transaction."""
    result, stored = order_upsert_records(connection=connection, records=records)
    present = {str(r.external_id): {i.external_id for i in r.items} for r in records if r.items is not None}
    reservation_apply_orders(connection=connection, orders=stored, present=present, source=source)
    return result


def refresh_order(connection: Connection, http: httpx.Client, external_id: str) -> UpsertResult:
    reason = budget_admission(connection, Entity.ORDERS)
    if reason:
        raise RateLimited(reason)
    record = OrdersAdapter(connection, http).fetch(external_id)
    return upsert_orders(connection=connection, records=[record], source="refresh")


class InventoryAdapter:
    def __init__(self, connection: Connection, http: httpx.Client) -> None:
        self.client = client_for(connection, http)

    def pages(self, *, cursor: dict) -> Iterator[Page]:
        started = timezone.now()
        yield whole_sweep_page(self.client.inventories(), lot_record, lambda raw: text(raw.get("inventory_id")), started_at=started)


def process_notifications(connection: Connection, http: httpx.Client, extra_order_ids: list[str] = ()) -> list[str]:
    """``GET /notifications`` and refresh each order named (once per order); returns the order ids refreshed."""
    from django.db import transaction

    client = client_for(connection, http)
    order_ids: list[str] = [str(o) for o in dict.fromkeys(extra_order_ids)]
    for note in client.notifications():
        if str(note.get("event_type", "")).lower() == "order" and note.get("resource_id") is not None:
            order_id = text(note["resource_id"])
            if order_id not in order_ids:
                order_ids.append(order_id)
    adapter = OrdersAdapter(connection, http)
    adapter.client = client
    for order_id in order_ids:
        try:
            record = adapter.fetch(order_id)
        except NotFound:
            logger.info("BrickLink notification for order %s, which is gone", order_id)
            continue
        with transaction.atomic():
            upsert_orders(connection=connection, records=[record], source="notification")
    return order_ids


register(EntitySpec(
    marketplace=Marketplace.BRICKLINK,
    entity=Entity.ORDERS,
    adapter=OrdersAdapter,
    upsert_page=upsert_orders,
    admission=budget_admission,
    refresh_one=refresh_order,
))
register(EntitySpec(
    marketplace=Marketplace.BRICKLINK,
    entity=Entity.INVENTORY,
    adapter=InventoryAdapter,
    upsert_page=inventory_upsert_lots,
    mark_removed=inventory_mark_removed,
    admission=budget_admission,
))
